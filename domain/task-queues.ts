// Task queue names. The control worker polls `<prefix>medrelease`; each cloud worker polls
// `<prefix>cloud-<name>` and so holds only that cloud's credentials. The prefix lets tests and
// benchmarks share one Temporal server without taking each other's tasks.
export function controlTaskQueue(prefix = ''): string {
  return `${prefix}medrelease`;
}

export function cloudTaskQueue(cloud: string, prefix = ''): string {
  return `${prefix}cloud-${cloud}`;
}
