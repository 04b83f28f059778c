// The API's error registry: every error response carries one of these stable codes, and each code
// has one HTTP status. Sign-off and operator refusals reuse the workflow's own failure types
// (domain/errors.ts, domain/rules.ts), so a client sees the same code whichever way it acted.
import { Type, type Static } from 'typebox';
import { SignoffRefusal, WaiverRefusal } from '../domain/errors.js';
import type { FieldProblem } from '../domain/release-input.js';

export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  INVALID_BODY: 400,
  BAD_REQUEST: 400,
  PAYLOAD_UNDECODABLE: 400,
  [SignoffRefusal.CommentRequired]: 400,
  [WaiverRefusal.Invalid]: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  [SignoffRefusal.NotClinicalApprover]: 403,
  [SignoffRefusal.RequesterCannotApprove]: 403,
  NOT_PERMITTED: 403,
  [WaiverRefusal.RoleMissing]: 403,
  [WaiverRefusal.RequesterCannotWaive]: 403,
  RELEASE_NOT_FOUND: 404,
  COMPLIANCE_NOT_EVALUATED: 404,
  ROUTE_NOT_FOUND: 404,
  RELEASE_ID_CONFLICT: 409,
  RELEASE_CLOSED: 409,
  [SignoffRefusal.AlreadySignedOff]: 409,
  [SignoffRefusal.NotAwaitingSignoff]: 409,
  INVALID_STATE: 409,
  [WaiverRefusal.NotAwaitingWaivers]: 409,
  [WaiverRefusal.NotWaivable]: 409,
  [WaiverRefusal.AlreadyApproved]: 409,
  ACTION_REFUSED: 409,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  TEMPORAL_UNAVAILABLE: 503,
  IDENTITY_PROVIDER_UNAVAILABLE: 503,
  AUDIT_UNAVAILABLE: 503,
  TEMPORAL_TIMEOUT: 504,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

/** One line per code, for the OpenAPI description and docs/api.md. */
export const ERROR_MEANINGS: Record<ErrorCode, string> = {
  VALIDATION_FAILED: 'The request does not satisfy the schema or a release rule; `problems` lists every one.',
  INVALID_BODY: 'The body is not well-formed JSON or YAML.',
  BAD_REQUEST: 'The request is malformed in some other way (see the message).',
  PAYLOAD_UNDECODABLE:
    'A payload sent to the codec endpoint cannot be decrypted (unknown key id, or tampered); the message names it.',
  COMMENT_REQUIRED: 'A sign-off needs a comment of at least 3 non-blank characters.',
  UNAUTHENTICATED: 'No bearer token, or one that is not valid.',
  FORBIDDEN: 'The caller lacks the role the route needs.',
  NOT_CLINICAL_APPROVER: 'The caller does not hold the clinical-approver role.',
  REQUESTER_CANNOT_SIGN_OFF: 'The person who requested a release may not sign it off.',
  NOT_PERMITTED: 'The release refused the operator action for this person.',
  RELEASE_NOT_FOUND: 'No release has this id.',
  COMPLIANCE_NOT_EVALUATED: 'The release has not reached its compliance gate yet.',
  WAIVER_INVALID:
    'The waiver needs a justification (10+ characters) and an expiry in the future within the policy’s limit.',
  WAIVER_ROLE_MISSING: 'The caller holds none of the roles the policy names for approving waivers.',
  REQUESTER_CANNOT_WAIVE: 'The person who requested a release may not waive its controls.',
  NOT_AWAITING_WAIVERS:
    'The release is not waiting for waivers (not in its compliance stage, or nothing to waive).',
  CONTROL_NOT_WAIVABLE:
    'The control is not a failed major that a waiver would release (blockers are never waivable).',
  WAIVER_ALREADY_APPROVED: 'This person has already approved the waiver of this control.',
  ROUTE_NOT_FOUND: 'No such route.',
  RELEASE_ID_CONFLICT: 'A release with this id exists and was created from a different request.',
  RELEASE_CLOSED: 'The release has ended; it accepts no more actions.',
  ALREADY_SIGNED_OFF: 'This person has already signed off this release.',
  NOT_AWAITING_SIGNOFF: 'The release is not waiting for sign-off.',
  INVALID_STATE: 'The operator action does not apply in the release’s current state.',
  ACTION_REFUSED: 'The release refused the action for another reason (see the message).',
  BODY_TOO_LARGE: 'The body exceeds 1 MiB.',
  UNSUPPORTED_MEDIA_TYPE: 'The Content-Type is not accepted by this route.',
  RATE_LIMITED: 'Too many requests from this caller in the current window; see Retry-After.',
  INTERNAL_ERROR: 'An unexpected error; it has been logged.',
  TEMPORAL_UNAVAILABLE: 'The Temporal server cannot be reached.',
  IDENTITY_PROVIDER_UNAVAILABLE: 'The OpenID Connect issuer cannot be reached (browser sign-in).',
  AUDIT_UNAVAILABLE:
    'The audit trail cannot be read (its database or public keys are missing or unreadable).',
  TEMPORAL_TIMEOUT:
    'Temporal is reachable but the release did not answer in time (are the workers running?).',
};

export const ProblemSchema = Type.Object({
  field: Type.String({ description: 'JSON pointer into the request part that is wrong.' }),
  message: Type.String(),
});

export const ErrorResponse = Type.Object(
  {
    code: Type.String({ description: 'Stable error code.' }),
    message: Type.String(),
    field: Type.Optional(Type.String({ description: 'JSON pointer of the (first) field at fault.' })),
    problems: Type.Optional(Type.Array(ProblemSchema)),
  },
  { description: 'Every error response has this shape.' },
);
export type ErrorResponse = Static<typeof ErrorResponse>;

/** A coded error; its HTTP status follows from the code. */
export class ApiError extends Error {
  readonly statusCode: number;
  readonly field: string | undefined;
  readonly problems: FieldProblem[] | undefined;
  /** Response headers the error calls for (WWW-Authenticate on a 401). */
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: {
      field?: string;
      problems?: FieldProblem[];
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.statusCode = ERROR_STATUS[code];
    this.field = options.field ?? options.problems?.[0]?.field;
    this.problems = options.problems;
    this.headers = options.headers ?? {};
  }

  toResponse(): ErrorResponse {
    return {
      code: this.code,
      message: this.message,
      ...(this.field !== undefined ? { field: this.field } : {}),
      ...(this.problems ? { problems: this.problems } : {}),
    };
  }
}

/** 400 VALIDATION_FAILED listing every problem; the message repeats them so a log line is enough. */
export function validationFailed(problems: FieldProblem[], what = 'the request'): ApiError {
  const listed = problems.map((problem) => `${problem.field || '(root)'}: ${problem.message}`).join('; ');
  return new ApiError('VALIDATION_FAILED', `${what} is invalid: ${listed}`, { problems });
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, code);
}
