// Every message a release understands, defined once and imported by the workflows, the API and
// the tests. Updates are what the API uses (the caller learns at once whether the action counted);
// the signal twins exist so that a person can act from the Temporal UI or CLI, and carry a
// credential that an activity verifies before anything changes.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Waiver } from '../domain/compliance.js';
import type { Person } from '../domain/release.js';
import type {
  CapacityDecision,
  CloudState,
  OperatorAction,
  ReleaseStatus,
  StepVerdict,
} from '../domain/status.js';

/**
 * Updates name the person and carry their access token: the release verifies the token (an activity)
 * and acts only as the person it proves, so no one who can send an Update to Temporal directly can
 * act as someone else. (Releases started before this was enforced accepted updates without one.)
 */
export interface SignoffArgs {
  approver: Person;
  credential?: string;
  decision: 'approve' | 'reject';
  comment: string;
}

export interface SignoffByCredentialArgs {
  credential: string;
  decision: 'approve' | 'reject';
  comment: string;
}

export interface SignoffResult {
  accepted: true;
  decision: 'approve' | 'reject';
  approvals: number;
  quorum: number;
  /** The stage the release moves to because of this sign-off, if it moves. */
  stage: ReleaseStatus['stage'];
}

export interface OperateArgs {
  action: OperatorAction['action'];
  by: Person;
  credential?: string;
  reason: string;
}

export interface OperateByCredentialArgs {
  action: OperatorAction['action'];
  credential: string;
  reason: string;
}

export interface OperateResult {
  accepted: true;
  action: OperatorAction['action'];
  stage: ReleaseStatus['stage'];
  paused: boolean;
}

export interface CloudProgress {
  cloud: string;
  state: CloudState;
  step: number | null;
  weight: number;
  verdict?: StepVerdict;
  /** The capacity predictive scaling set before this step. */
  capacity?: CapacityDecision;
  event: string;
  /** Order of the report within its rollout: reports sent together may arrive out of order. */
  seq?: number;
}

export interface WaiverArgs {
  by: Person;
  credential?: string;
  control: string;
  justification: string;
  expiresAt: string;
}

export interface WaiverResult {
  accepted: true;
  waiver: Waiver;
  /** Roles of the policy whose approval the waiver still lacks. */
  missingRoles: string[];
}

export const statusQuery = defineQuery<ReleaseStatus>('status');
export const signoffUpdate = defineUpdate<SignoffResult, [SignoffArgs]>('signoff');
export const signoffSignal = defineSignal<[SignoffByCredentialArgs]>('signoffByCredential');
export const operateUpdate = defineUpdate<OperateResult, [OperateArgs]>('operate');
/** A waiver for a failed major control, or another approver's approval of one (compliance stage). */
export const waiverUpdate = defineUpdate<WaiverResult, [WaiverArgs]>('waiver');
export const operateSignal = defineSignal<[OperateByCredentialArgs]>('operateByCredential');

/** From a CloudRolloutWorkflow to its parent: what just happened in that cloud. */
export const cloudProgressSignal = defineSignal<[CloudProgress]>('cloudProgress');
/** From the parent to a CloudRolloutWorkflow: hold before the next step (or go on). */
export const setPausedSignal = defineSignal<[boolean]>('setPaused');
