// The API's own schemas (the release request itself is domain/release.ts's CreateReleaseRequest).
// They validate requests, shape responses, and are what OpenAPI publishes.
import { Type, type Static } from 'typebox';
import { ACTIVE_STAGES, CLOUD_NAME_PATTERN, RELEASE_ID_PATTERN, TERMINAL_STAGES } from '../domain/release.js';

export const MODEL_NAME_PATTERN = '^[a-z0-9][a-z0-9-]{1,62}$';
export const MODEL_VERSION_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$';
export const STAGES = [...ACTIVE_STAGES, ...TERMINAL_STAGES] as const;

export const StageSchema = Type.Enum([...STAGES], { description: 'Where the release is in its life.' });

export const ReleaseIdParams = Type.Object(
  { releaseId: Type.String({ pattern: RELEASE_ID_PATTERN, description: 'The release id (= workflow id).' }) },
  { additionalProperties: false },
);
export type ReleaseIdParams = Static<typeof ReleaseIdParams>;

export const CreatedRelease = Type.Object({
  releaseId: Type.String(),
  stage: StageSchema,
  links: Type.Object({
    self: Type.String({ description: 'This API’s URL of the release.' }),
    temporalUi: Type.Optional(
      Type.String({ description: 'The release’s workflow in the Temporal Web UI, when configured.' }),
    ),
  }),
});
export type CreatedRelease = Static<typeof CreatedRelease>;

export const ListQuery = Type.Object(
  {
    stage: Type.Optional(StageSchema),
    model: Type.Optional(Type.String({ pattern: MODEL_NAME_PATTERN, description: 'Model name.' })),
    version: Type.Optional(Type.String({ pattern: MODEL_VERSION_PATTERN, description: 'Model version.' })),
    cloud: Type.Optional(
      Type.String({ pattern: CLOUD_NAME_PATTERN, description: 'Releases that target this cloud.' }),
    ),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 500,
        default: 50,
        description: 'At most this many releases, newest first (default 50).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;

export const WorkflowStatusName = Type.String({
  description: 'Temporal execution status: RUNNING, COMPLETED, FAILED, TERMINATED, TIMED_OUT, CANCELLED, …',
});

export const ReleaseSummary = Type.Object({
  releaseId: Type.String(),
  stage: Type.String({ description: 'The stage search attribute (see the stage values of a release).' }),
  model: Type.String(),
  version: Type.String(),
  clouds: Type.Array(Type.String()),
  status: WorkflowStatusName,
  startedAt: Type.String({ format: 'date-time' }),
  closedAt: Type.Optional(Type.String({ format: 'date-time' })),
});
export type ReleaseSummary = Static<typeof ReleaseSummary>;

export const ReleaseList = Type.Object({ releases: Type.Array(ReleaseSummary) });
export type ReleaseList = Static<typeof ReleaseList>;

const open = { additionalProperties: true } as const;
const PersonRef = Type.Object({ id: Type.String(), name: Type.String() }, open);
const Reason = Type.Object({ code: Type.String(), message: Type.String() }, open);
const SignoffRecord = Type.Object(
  {
    approver: PersonRef,
    decision: Type.Enum(['approve', 'reject']),
    comment: Type.String(),
    at: Type.String({ format: 'date-time' }),
    via: Type.String(),
  },
  open,
);

/** The release's own status report (the workflow's status query, or its result once it has ended). */
export const ReleaseStatusSchema = Type.Object(
  {
    releaseId: Type.String(),
    model: Type.Object({ name: Type.String(), version: Type.String(), image: Type.String() }, open),
    requestedBy: PersonRef,
    requestedAt: Type.String({ format: 'date-time' }),
    stage: StageSchema,
    outcome: Type.Optional(StageSchema),
    reason: Type.Optional(Reason),
    paused: Type.Boolean(),
    waves: Type.Array(Type.Array(Type.String()), {
      description: 'Canary waves: the pilot cloud, then the rest.',
    }),
    clouds: Type.Record(
      Type.String(),
      Type.Object(
        {
          cloud: Type.String(),
          wave: Type.Integer(),
          state: Type.String({
            description: 'pending, deploying, canary, passed, promoted, failed or rolled-back.',
          }),
          step: Type.Union([Type.Integer(), Type.Null()]),
          weight: Type.Number({ description: 'Canary traffic weight in percent.' }),
          lastVerdict: Type.Optional(
            Type.Unknown({
              description:
                'The last canary step’s verdicts with their reasons; `early` when the step concluded before its interval ended (the look and the sequential test’s finding).',
            }),
          ),
          capacity: Type.Optional(
            Type.Object(
              {
                step: Type.Integer(),
                replicas: Type.Integer({
                  description: 'Replicas serving the model at full traffic (or its HPA minimum).',
                }),
                forecastPeak: Type.Number({
                  description: 'Forecast peak request rate over the horizon, requests/s.',
                }),
                reactiveReplicas: Type.Integer({
                  description: 'What a reactive autoscaler would set for the current load.',
                }),
                fallback: Type.Boolean({
                  description: 'Too little history to forecast: sized for the recent peak.',
                }),
                at: Type.String({ format: 'date-time' }),
              },
              {
                ...open,
                description:
                  'The capacity predictive scaling set ahead of the latest step (clouds with `scaling`).',
              },
            ),
          ),
          updatedAt: Type.String({ format: 'date-time' }),
        },
        open,
      ),
      { description: 'Per-cloud rollout state, by cloud name.' },
    ),
    staging: Type.Optional(
      Type.Unknown({ description: 'Staging deployment, smoke test and evaluation metrics.' }),
    ),
    compliance: Type.Optional(
      Type.Unknown({
        description:
          'The compliance report: decision, score and every control with its evidence (GET /releases/{releaseId}/compliance describes it).',
      }),
    ),
    waivers: Type.Optional(
      Type.Unknown({ description: 'Waivers of failed major controls submitted in the compliance stage.' }),
    ),
    pacing: Type.Optional(
      Type.Object(
        {
          mode: Type.Enum(['adaptive', 'fixed']),
          risk: Type.Object(
            {
              probability: Type.Number({
                minimum: 0,
                maximum: 1,
                description: 'Predicted probability that the release is bad.',
              }),
              features: Type.Unknown({
                description: 'What the risk model read, by feature (docs/pacing.md).',
              }),
              reasons: Type.Array(
                Type.Object(
                  { feature: Type.String(), contribution: Type.Number(), text: Type.String() },
                  open,
                ),
                { description: 'Contributions in logit points, largest first.' },
              ),
              model: Type.Object(
                {
                  source: Type.Enum(['prior', 'trained']),
                  trainedOn: Type.Integer(),
                  bad: Type.Integer(),
                  digest: Type.String(),
                },
                open,
              ),
            },
            open,
          ),
          position: Type.Union([Type.Number(), Type.Null()], {
            description:
              'Between the fastest (0) and the most careful (1) plan the policy allows; null for a fixed plan.',
          }),
          plan: Type.Object(
            {
              steps: Type.Array(Type.Integer()),
              analysisIntervalSeconds: Type.Number(),
              looks: Type.Integer({
                description: 'Looks per interval; from earliestLook on a step may conclude early.',
              }),
              earliestLook: Type.Number(),
            },
            { ...open, description: 'The pilot wave’s canary plan (every wave’s when fixed).' },
          ),
          why: Type.Array(Type.String()),
          laterWaves: Type.Optional(
            Type.Object(
              { risk: Type.Number(), plan: Type.Unknown(), why: Type.Array(Type.String()) },
              {
                ...open,
                description: 'The plan of the waves after the pilot, for the risk once the pilot has passed.',
              },
            ),
          ),
          traffic: Type.Record(Type.String(), Type.Unknown(), {
            description: 'Per cloud, the request-rate history read.',
          }),
          assessedAt: Type.String({ format: 'date-time' }),
        },
        {
          ...open,
          description:
            'The release’s predicted risk and the canary plan chosen from it, set before sign-off (absent in releases created before pacing existed).',
        },
      ),
    ),
    signoff: Type.Object(
      {
        quorum: Type.Integer(),
        deadline: Type.Optional(Type.String({ format: 'date-time' })),
        approvals: Type.Array(SignoffRecord),
        rejections: Type.Array(SignoffRecord),
        refused: Type.Array(Type.Unknown()),
      },
      open,
    ),
    operatorActions: Type.Array(
      Type.Object(
        {
          action: Type.String(),
          by: Type.String(),
          reason: Type.String(),
          at: Type.String(),
          via: Type.String(),
        },
        open,
      ),
    ),
    warmUntil: Type.Optional(Type.String({ format: 'date-time' })),
    timeline: Type.Array(
      Type.Object(
        {
          at: Type.String(),
          stage: Type.String(),
          event: Type.String(),
          cloud: Type.Optional(Type.String()),
        },
        open,
      ),
    ),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { ...open, description: 'The full status of a release.' },
);

export const SignoffBody = Type.Object(
  {
    decision: Type.Enum(['approve', 'reject']),
    comment: Type.String({ minLength: 3, maxLength: 4000, description: 'Why; recorded in the audit trail.' }),
  },
  { additionalProperties: false },
);
export type SignoffBody = Static<typeof SignoffBody>;

export const SignoffResultSchema = Type.Object({
  accepted: Type.Literal(true),
  decision: Type.Enum(['approve', 'reject']),
  approvals: Type.Integer(),
  quorum: Type.Integer(),
  stage: StageSchema,
});

export const OperateBody = Type.Object(
  {
    reason: Type.String({ minLength: 3, maxLength: 4000, description: 'Why; recorded in the audit trail.' }),
  },
  { additionalProperties: false },
);
export type OperateBody = Static<typeof OperateBody>;

export const OperateResultSchema = Type.Object({
  accepted: Type.Literal(true),
  action: Type.Enum(['pause', 'resume', 'abort', 'rollback']),
  stage: StageSchema,
  paused: Type.Boolean(),
});

const EvidenceItemSchema = Type.Object({
  check: Type.String(),
  path: Type.String({ description: 'JSON pointer into the manifest.' }),
  observed: Type.Unknown(),
  expected: Type.Unknown(),
  status: Type.Enum(['pass', 'fail', 'error']),
  message: Type.Optional(Type.String()),
});

const WaiverSchema = Type.Object({
  control: Type.String(),
  justification: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
  requestedBy: Type.Object({ id: Type.String(), name: Type.Optional(Type.String()) }),
  approvals: Type.Array(
    Type.Object({
      by: Type.Object({ id: Type.String(), name: Type.Optional(Type.String()) }),
      role: Type.String(),
      at: Type.String(),
    }),
  ),
});

export const ComplianceReportSchema = Type.Object(
  {
    decision: Type.Enum(['pass', 'blocked']),
    passed: Type.Boolean(),
    mode: Type.Enum(['policy', 'request-checks']),
    score: Type.Number({ description: '100 × Σ weight(pass) / Σ weight(pass, fail, error); N/A excluded.' }),
    minScore: Type.Number(),
    reasons: Type.Array(Type.String(), { description: 'Why the release is blocked (empty on pass).' }),
    awaitingWaivers: Type.Array(Type.String(), {
      description: 'Failed majors that valid waivers would release (the release waits for them).',
    }),
    counts: Type.Record(Type.String(), Type.Integer()),
    waiverPolicy: Type.Optional(
      Type.Object({ approverRoles: Type.Array(Type.String()), maxDays: Type.Number() }),
    ),
    controls: Type.Array(
      Type.Object({
        id: Type.String(),
        pack: Type.String(),
        title: Type.String(),
        severity: Type.Enum(['blocker', 'major', 'minor']),
        source: Type.String(),
        status: Type.Enum(['pass', 'fail', 'not_applicable', 'error']),
        evidence: Type.Array(EvidenceItemSchema),
        omittedPassingEvidence: Type.Optional(Type.Integer()),
        notApplicableRule: Type.Optional(Type.String()),
        ruleDigest: Type.String(),
        waiver: Type.Optional(
          Type.Object({ valid: Type.Boolean(), problems: Type.Array(Type.String()), waiver: WaiverSchema }),
        ),
      }),
    ),
    manifestDigest: Type.Optional(Type.String()),
    policy: Type.Object({
      name: Type.String(),
      version: Type.String(),
      digest: Type.String(),
      packs: Type.Array(Type.Object({ id: Type.String(), version: Type.String(), controls: Type.Integer() })),
      data: Type.Optional(Type.Array(Type.Object({ name: Type.String(), version: Type.String() }))),
    }),
    engine: Type.Object({ name: Type.String(), version: Type.String() }),
    evaluatedAt: Type.String(),
    stored: Type.Optional(Type.Object({ path: Type.String(), digest: Type.String() })),
  },
  { description: 'The compliance gate’s report: decision, score, and every control with its evidence.' },
);

export const ComplianceResponse = Type.Object({
  releaseId: Type.String(),
  stage: StageSchema,
  report: ComplianceReportSchema,
  waivers: Type.Array(WaiverSchema),
});

export const WaiverBody = Type.Object(
  {
    control: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'The id of the failed major control.',
    }),
    justification: Type.String({
      minLength: 10,
      maxLength: 4000,
      description: 'Why the release may proceed despite the failure; recorded in the audit trail.',
    }),
    expiresAt: Type.String({ format: 'date-time', description: 'When the waiver stops counting.' }),
  },
  { additionalProperties: false },
);

export const WaiverResultSchema = Type.Object({
  accepted: Type.Literal(true),
  waiver: WaiverSchema,
  missingRoles: Type.Array(Type.String(), { description: 'Roles whose approval the waiver still lacks.' }),
});
