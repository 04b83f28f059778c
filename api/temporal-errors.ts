// Recognising Temporal connectivity failures. The client wraps gRPC errors (ServiceError and
// friends, each with a `cause`), so these walk the cause chain looking for the gRPC status.

// gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
const DEADLINE_EXCEEDED = 4;
const UNAVAILABLE = 14;

function grpcCodes(error: unknown): number[] {
  const codes: number[] = [];
  for (
    let cursor: unknown = error, depth = 0;
    cursor instanceof Error && depth < 10;
    cursor = cursor.cause, depth++
  ) {
    const code = (cursor as { code?: unknown }).code;
    if (typeof code === 'number' && typeof (cursor as { details?: unknown }).details === 'string')
      codes.push(code);
  }
  return codes;
}

export function isDeadlineExceeded(error: unknown): boolean {
  return grpcCodes(error).includes(DEADLINE_EXCEEDED);
}

/**
 * True when Temporal could not be reached: the server refused or dropped the connection, or a call
 * ran out of its deadline without an answer (the SDK retries an unreachable server until then).
 */
export function isTemporalUnavailable(error: unknown): boolean {
  if (error instanceof Error && error.message === 'Failed to connect to Temporal server') return true;
  return grpcCodes(error).some((code) => code === UNAVAILABLE || code === DEADLINE_EXCEEDED);
}
