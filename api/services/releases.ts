// Releases as the API sees them: each one is a ReleaseWorkflow on Temporal. This service is the only
// API code that talks to Temporal about releases; it turns Temporal's answers and failures into the
// API's coded errors, and bounds every call with a deadline so a request never waits forever.
import { randomBytes } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  ApplicationFailure,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
} from '@temporalio/client';
import type { ComplianceReport, Waiver } from '../../domain/compliance.js';
import type { Config } from '../../domain/config.js';
import type { CreateReleaseRequest, Person, Stage } from '../../domain/release.js';
import { buildReleaseInput, releaseRequestProblems } from '../../domain/release-input.js';
import { CloudsKey, ModelNameKey, ModelVersionKey, StageKey } from '../../domain/search-attributes.js';
import type { ReleaseStatus } from '../../domain/status.js';
import { controlTaskQueue } from '../../domain/task-queues.js';
import type { ReleaseWorkflow } from '../../workflows/release.js';
import {
  operateUpdate,
  signoffUpdate,
  waiverUpdate,
  type WaiverArgs,
  type WaiverResult,
  statusQuery,
  type OperateArgs,
  type OperateResult,
  type SignoffResult,
} from '../../workflows/messages.js';
import { ApiError, ERROR_STATUS, isErrorCode, validationFailed, type ErrorCode } from '../errors.js';
import type { CreatedRelease, ListQuery, ReleaseSummary } from '../schemas.js';
import { isDeadlineExceeded } from '../temporal-errors.js';

const WORKFLOW_TYPE = 'ReleaseWorkflow';

export interface ReleaseServiceOptions {
  /** Base URL of the Temporal Web UI; when set, created releases link to their workflow there. */
  temporalUiUrl?: string | undefined;
}

export class ReleaseService {
  private readonly controlQueue: string;
  /** Deadline of a plain Temporal call (start, describe, list). */
  private readonly callMs: number;
  /** Deadline of a call that waits for the release itself to answer (query, update, result). */
  private readonly answerMs: number;

  constructor(
    private readonly client: Client,
    private readonly config: Config,
    private readonly options: ReleaseServiceOptions = {},
  ) {
    this.controlQueue = controlTaskQueue(config.temporal.taskQueuePrefix);
    this.answerMs = Math.max(1000, config.api.requestTimeoutMs - 1000);
    this.callMs = Math.min(10_000, this.answerMs);
  }

  async create(
    request: CreateReleaseRequest,
    requestedBy: Person,
  ): Promise<{ created: boolean; release: CreatedRelease }> {
    const problems = releaseRequestProblems(request, this.config);
    if (problems.length > 0) throw validationFailed(problems, 'the release request');
    const releaseId = request.releaseId ?? newReleaseId();
    const input = buildReleaseInput({ request, releaseId, requestedBy, config: this.config });
    try {
      await this.call(() =>
        this.client.workflow.start<typeof ReleaseWorkflow>(WORKFLOW_TYPE, {
          workflowId: releaseId,
          taskQueue: this.controlQueue,
          args: [input],
          typedSearchAttributes: [
            { key: StageKey, value: 'validating' },
            { key: ModelNameKey, value: input.model.name },
            { key: ModelVersionKey, value: input.model.version },
            { key: CloudsKey, value: input.waves.flat() },
          ],
          // Only a digest of the request: memos are not encrypted and must not carry anything sensitive.
          memo: { requestHash: input.requestHash },
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        }),
      );
      return { created: true, release: this.created(releaseId, 'validating') };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
    // The id is taken: a repeat of the same request is answered with the release it created.
    const existing = await this.call(() => this.client.workflow.getHandle(releaseId).describe());
    if (this.isOurs(existing) && existing.memo?.requestHash === input.requestHash) {
      return { created: false, release: this.created(releaseId, stageOf(existing)) };
    }
    throw new ApiError(
      'RELEASE_ID_CONFLICT',
      `release '${releaseId}' already exists and was created from a different request`,
      {
        field: '/releaseId',
      },
    );
  }

  async list(filters: ListQuery): Promise<ReleaseSummary[]> {
    const query = listQuery(filters, this.controlQueue);
    const limit = filters.limit ?? 50;
    return this.call(async () => {
      const releases: ReleaseSummary[] = [];
      for await (const execution of this.client.workflow.list({
        query,
        pageSize: Math.min(limit, 100),
      })) {
        releases.push(summary(execution));
        if (releases.length >= limit) break;
      }
      return releases;
    });
  }

  async status(releaseId: string): Promise<ReleaseStatus> {
    const { handle, description } = await this.describe(releaseId);
    switch (description.status.name) {
      case 'RUNNING':
        return this.answer(
          () => handle.query(statusQuery),
          `release '${releaseId}' did not answer its status query`,
        );
      case 'COMPLETED':
        // The workflow returns its final status, so an ended release needs no worker to report it.
        return this.answer(() => handle.result(), `the result of release '${releaseId}' could not be read`);
      default:
        return this.endedAbnormally(releaseId, handle, description);
    }
  }

  async signoff(
    releaseId: string,
    approver: Person,
    decision: 'approve' | 'reject',
    comment: string,
    credential: string,
  ): Promise<SignoffResult> {
    const handle = await this.running(releaseId);
    return this.update(releaseId, () =>
      handle.executeUpdate(signoffUpdate, { args: [{ approver, credential, decision, comment }] }),
    );
  }

  /** The compliance report of a release (and the waivers submitted), once its gate has run. */
  async compliance(
    releaseId: string,
  ): Promise<{ releaseId: string; stage: Stage; report: ComplianceReport; waivers: Waiver[] }> {
    const status = await this.status(releaseId);
    if (!status.compliance) {
      throw new ApiError(
        'COMPLIANCE_NOT_EVALUATED',
        `release '${releaseId}' is in stage '${status.stage}' and has not been through its compliance gate`,
      );
    }
    return { releaseId, stage: status.stage, report: status.compliance, waivers: status.waivers ?? [] };
  }

  async waive(releaseId: string, args: WaiverArgs): Promise<WaiverResult> {
    const handle = await this.running(releaseId);
    return this.update(releaseId, () => handle.executeUpdate(waiverUpdate, { args: [args] }));
  }

  async operate(releaseId: string, args: OperateArgs): Promise<OperateResult> {
    const handle = await this.running(releaseId);
    return this.update(releaseId, () => handle.executeUpdate(operateUpdate, { args: [args] }));
  }

  /** Throws unless Temporal answers within `timeoutMs`. */
  async ready(timeoutMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    // The deadline bounds the RPC; the timer bounds the SDK's retry back-off, which can overrun it.
    const probe = this.client.withDeadline(Date.now() + timeoutMs, () =>
      this.client.workflowService.getSystemInfo({}),
    );
    const expiry = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Temporal did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([probe, expiry]);
    } finally {
      clearTimeout(timer);
      probe.catch(() => undefined);
    }
  }

  // ---- helpers ------------------------------------------------------------------------------------

  private created(releaseId: string, stage: Stage): CreatedRelease {
    const ui = this.options.temporalUiUrl?.replace(/\/+$/, '');
    return {
      releaseId,
      stage,
      links: {
        self: `/v1/releases/${releaseId}`,
        ...(ui
          ? {
              temporalUi: `${ui}/namespaces/${encodeURIComponent(this.config.temporal.namespace)}/workflows/${encodeURIComponent(releaseId)}`,
            }
          : {}),
      },
    };
  }

  /** A release of this environment: a ReleaseWorkflow on this environment's control task queue. */
  private isOurs(description: Pick<WorkflowExecutionInfo, 'type' | 'taskQueue'>): boolean {
    return description.type === WORKFLOW_TYPE && description.taskQueue === this.controlQueue;
  }

  private async describe(
    releaseId: string,
  ): Promise<{ handle: WorkflowHandle<typeof ReleaseWorkflow>; description: WorkflowExecutionDescription }> {
    const handle = this.client.workflow.getHandle<typeof ReleaseWorkflow>(releaseId);
    try {
      const description = await this.call(() => handle.describe());
      if (this.isOurs(description)) return { handle, description };
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
    throw new ApiError('RELEASE_NOT_FOUND', `there is no release '${releaseId}'`, { field: '/releaseId' });
  }

  private async running(releaseId: string): Promise<WorkflowHandle<typeof ReleaseWorkflow>> {
    const { handle, description } = await this.describe(releaseId);
    if (description.status.name !== 'RUNNING') {
      throw new ApiError(
        'RELEASE_CLOSED',
        `release '${releaseId}' has ended (${stageOf(description)}) and accepts no more actions`,
      );
    }
    return handle;
  }

  private async update<T>(releaseId: string, send: () => Promise<T>): Promise<T> {
    try {
      return await this.client.withDeadline(Date.now() + this.answerMs, send);
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
        // The release's validator refused: its failure type is one of our codes (domain/errors.ts).
        const type = error.cause.type ?? '';
        const code: ErrorCode = isErrorCode(type) && ERROR_STATUS[type] < 500 ? type : 'ACTION_REFUSED';
        throw new ApiError(code, error.cause.message, { cause: error });
      }
      if (error instanceof WorkflowNotFoundError) {
        // It was running a moment ago, so it has just ended.
        throw new ApiError('RELEASE_CLOSED', `release '${releaseId}' has ended and accepts no more actions`, {
          cause: error,
        });
      }
      if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isDeadlineExceeded(error)) {
        throw new ApiError(
          'TEMPORAL_TIMEOUT',
          `release '${releaseId}' did not accept or refuse the action within ${this.answerMs} ms`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
  }

  /** Runs a call that waits for the release (its worker) to answer; a deadline becomes TEMPORAL_TIMEOUT. */
  private async answer<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await this.client.withDeadline(Date.now() + this.answerMs, fn);
    } catch (error) {
      if (isDeadlineExceeded(error))
        throw new ApiError('TEMPORAL_TIMEOUT', `${what} within ${this.answerMs} ms`, { cause: error });
      throw error;
    }
  }

  private call<T>(fn: () => Promise<T>): Promise<T> {
    return this.client.withDeadline(Date.now() + this.callMs, fn);
  }

  /** Terminated, failed, timed out or cancelled from outside: what the history says, as a status. */
  private async endedAbnormally(
    releaseId: string,
    handle: WorkflowHandle<typeof ReleaseWorkflow>,
    description: WorkflowExecutionDescription,
  ): Promise<ReleaseStatus> {
    const failure = await this.call(() => handle.result()).then(
      () => undefined,
      (error: unknown) => error,
    );
    const detail =
      failure instanceof Error
        ? failure.cause instanceof Error
          ? failure.cause.message
          : failure.message
        : '';
    const state = description.status.name;
    const at = (description.closeTime ?? new Date()).toISOString();
    const message = `the release workflow was ${state.toLowerCase().replace('_', ' ')}${detail ? `: ${detail}` : ''}`;
    return {
      releaseId,
      model: {
        name: description.typedSearchAttributes.get(ModelNameKey) ?? '',
        version: description.typedSearchAttributes.get(ModelVersionKey) ?? '',
        image: '',
      },
      requestedBy: { id: 'unknown', name: 'unknown' },
      requestedAt: description.startTime.toISOString(),
      stage: 'failed',
      outcome: 'failed',
      reason: { code: `WORKFLOW_${state}`, message },
      paused: false,
      waves: [],
      clouds: {},
      signoff: { quorum: 0, approvals: [], rejections: [], refused: [] },
      operatorActions: [],
      timeline: [{ at, stage: 'failed', event: message }],
      updatedAt: at,
    };
  }
}

/** `rel-<yyyymmdd>-<8 hex>`: sortable by day, unguessable enough to avoid collisions, no PHI. */
export function newReleaseId(now = new Date()): string {
  const day = now.toISOString().slice(0, 10).replaceAll('-', '');
  return `rel-${day}-${randomBytes(4).toString('hex')}`;
}

/**
 * The visibility query of a release listing. The filter values were validated against strict
 * patterns before they get here; quoting them again keeps the query safe if that ever changes.
 */
export function listQuery(filters: Omit<ListQuery, 'limit'>, controlQueue: string): string {
  const clauses = [`WorkflowType = ${quote(WORKFLOW_TYPE)}`, `TaskQueue = ${quote(controlQueue)}`];
  if (filters.stage) clauses.push(`${StageKey.name} = ${quote(filters.stage)}`);
  if (filters.model) clauses.push(`${ModelNameKey.name} = ${quote(filters.model)}`);
  if (filters.version) clauses.push(`${ModelVersionKey.name} = ${quote(filters.version)}`);
  if (filters.cloud) clauses.push(`${CloudsKey.name} = ${quote(filters.cloud)}`);
  return clauses.join(' AND ');
}

function quote(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

function stageOf(execution: Pick<WorkflowExecutionInfo, 'typedSearchAttributes'>): Stage {
  return (execution.typedSearchAttributes.get(StageKey) ?? 'validating') as Stage;
}

function summary(execution: WorkflowExecutionInfo): ReleaseSummary {
  const attributes = execution.typedSearchAttributes;
  return {
    releaseId: execution.workflowId,
    stage: attributes.get(StageKey) ?? 'validating',
    model: attributes.get(ModelNameKey) ?? '',
    version: attributes.get(ModelVersionKey) ?? '',
    clouds: attributes.get(CloudsKey) ?? [],
    status: execution.status.name,
    startedAt: execution.startTime.toISOString(),
    ...(execution.closeTime ? { closedAt: execution.closeTime.toISOString() } : {}),
  };
}
