// Stable error codes. The same codes name Temporal ApplicationFailure types (so a workflow's
// business failures are non-retryable by name) and the `code` field of the API's error responses.

export const FailureCode = {
  ValidationFailed: 'VALIDATION_FAILED',
  ComplianceBlocked: 'COMPLIANCE_BLOCKED',
  StagingFailed: 'STAGING_FAILED',
  CanaryVerdictFailed: 'CANARY_VERDICT_FAILED',
  CloudNotConfigured: 'CLOUD_NOT_CONFIGURED',
  CloudConflict: 'CLOUD_CONFLICT',
  CloudRejected: 'CLOUD_REJECTED',
  RolloutFailed: 'ROLLOUT_FAILED',
  /** A cloud refused its restore during a rollback: the release ends failed, that cloud needs a person. */
  RestoreFailed: 'RESTORE_FAILED',
  CredentialInvalid: 'CREDENTIAL_INVALID',
  SignoffRefused: 'SIGNOFF_REFUSED',
  NotPermitted: 'NOT_PERMITTED',
  InvalidState: 'INVALID_STATE',
} as const;
export type FailureCode = (typeof FailureCode)[keyof typeof FailureCode];

/** Failure types that retrying cannot fix; every activity lists them as non-retryable. */
export const NON_RETRYABLE_FAILURES: string[] = [
  FailureCode.ValidationFailed,
  FailureCode.ComplianceBlocked,
  FailureCode.StagingFailed,
  FailureCode.CanaryVerdictFailed,
  FailureCode.CloudNotConfigured,
  FailureCode.CloudConflict,
  FailureCode.CloudRejected,
  FailureCode.RolloutFailed,
  FailureCode.CredentialInvalid,
];

/** Sign-off refusal reasons, each a stable code the API returns and the status records. */
export const SignoffRefusal = {
  NotAwaitingSignoff: 'NOT_AWAITING_SIGNOFF',
  NotClinicalApprover: 'NOT_CLINICAL_APPROVER',
  RequesterCannotApprove: 'REQUESTER_CANNOT_SIGN_OFF',
  AlreadySignedOff: 'ALREADY_SIGNED_OFF',
  CommentRequired: 'COMMENT_REQUIRED',
  CredentialInvalid: 'CREDENTIAL_INVALID',
} as const;
export type SignoffRefusal = (typeof SignoffRefusal)[keyof typeof SignoffRefusal];

/** Why a waiver was not accepted (API 409/403/400, workflow update validator). */
export const WaiverRefusal = {
  NotAwaitingWaivers: 'NOT_AWAITING_WAIVERS',
  NotWaivable: 'CONTROL_NOT_WAIVABLE',
  RoleMissing: 'WAIVER_ROLE_MISSING',
  RequesterCannotWaive: 'REQUESTER_CANNOT_WAIVE',
  AlreadyApproved: 'WAIVER_ALREADY_APPROVED',
  Invalid: 'WAIVER_INVALID',
} as const;

/** The message of the innermost cause of an error (a Temporal failure wraps the one that matters). */
export function innermostMessage(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  for (let cursor = error; cursor instanceof Error; cursor = cursor.cause) message = cursor.message;
  return message;
}
