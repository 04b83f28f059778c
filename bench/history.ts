// Reading recorded workflow histories for the orchestration benchmark: what one release actually
// did (activities, child workflows, signals, upserts, timers, workflow tasks), the plan a bare
// workflow must follow to make the same activity calls with the same parallelism, and timings taken
// from the server's own event times, so that client-side polling never counts.
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { BareBranch, BarePhase, ChainOp } from './bare-workflow.js';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];
type ProtoNumber = number | { toNumber(): number } | null | undefined;

function num(value: ProtoNumber): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

/** Event time in epoch milliseconds (server clock). */
export function eventMs(event: HistoryEvent): number {
  const time = event.eventTime;
  return time ? num(time.seconds) * 1000 + (time.nanos ?? 0) / 1e6 : 0;
}

/** What one workflow and its children recorded, counted. */
export interface RunCounts {
  /** ActivityTaskScheduled events: the "steps" the benchmark divides by. */
  activities: number;
  childWorkflows: number;
  /** SignalExternalWorkflowExecutionInitiated events (child → parent progress reports). */
  signalsSent: number;
  /** WorkflowExecutionSignaled events. */
  signalsReceived: number;
  upserts: number;
  timers: number;
  updatesAccepted: number;
  workflowTasks: number;
  historyEvents: number;
  /** Bytes of payload data and other binary fields in all histories (inputs, results, memo, search attributes). */
  payloadBytes: number;
}

/** Where the time of one run went, summed over the workflow and its children (server event times). */
export interface RunProfile {
  /** Scheduled → started of every workflow task: waiting in the task queue (or for a poller). */
  workflowTaskQueueMs: number;
  /** Started → completed of every workflow task: the worker running workflow code and replying. */
  workflowTaskRunMs: number;
  activityQueueMs: number;
  activityRunMs: number;
}

export interface RunTiming {
  /** WorkflowExecutionStarted → closing event of the top-level workflow. */
  totalMs: number;
  /**
   * Time the release waited for its sign-off: from the event that moved it to awaiting-signoff to the
   * moment the workflow task carrying the accepted sign-off update was scheduled (the update's arrival).
   * Zero for workflows without a sign-off.
   */
  signoffGapMs: number;
  /** totalMs − signoffGapMs. */
  orchestrationMs: number;
}

/** The longest stretch with no event in one of the histories: where a slow run stalled. */
export interface LongestWait {
  ms: number;
  workflowId: string;
  /** Attribute name of the event that ended the wait, e.g. 'workflowTaskStarted'. */
  endedBy: string;
  /** The same for the event before it. */
  after: string;
}

export interface RunAnalysis {
  counts: RunCounts;
  longestWait: LongestWait;
  /**
   * How the children sent their signals: 'awaited' when every signal went out in a workflow task of
   * its own (the child waited for it before its next command), 'unawaited' when signals went out
   * with the next activity; 'none' without signals.
   */
  childSignals: 'awaited' | 'unawaited' | 'none';
  profile: RunProfile;
  timing: RunTiming;
  /** The top-level workflow's work cut into phases, for the bare workflow to mirror. */
  phases: BarePhase[];
}

export async function analyseRun(client: Client, workflowId: string): Promise<RunAnalysis> {
  const parent = await fetchEvents(client, workflowId);
  const childIds = parent.flatMap((event) => {
    const id = event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
    return id ? [id] : [];
  });
  const children = new Map<string, HistoryEvent[]>();
  for (const childId of childIds) children.set(childId, await fetchEvents(client, childId));
  const all = [parent, ...children.values()];
  const waits = [[workflowId, parent] as const, ...children.entries()].map(([id, events]) =>
    longestWait(id, events),
  );
  return {
    counts: sumCounts(all.map(countEvents)),
    longestWait: waits.reduce((longest, wait) => (wait.ms > longest.ms ? wait : longest)),
    childSignals: signalMode([...children.values()]),
    profile: sumProfiles(all.map(profileEvents)),
    timing: timing(parent),
    phases: phasesOf(parent, children),
  };
}

async function fetchEvents(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return history.events ?? [];
}

/** Which event this is, by the attributes it carries: 'activityTaskScheduled', 'workflowExecutionSignaled' … */
export function eventKind(event: HistoryEvent): string {
  for (const [key, value] of Object.entries(event)) {
    if (key.endsWith('EventAttributes') && value) return key.slice(0, -'EventAttributes'.length);
  }
  return 'unknown';
}

function longestWait(workflowId: string, events: HistoryEvent[]): LongestWait {
  let longest: LongestWait = { ms: 0, workflowId, endedBy: 'none', after: 'none' };
  for (let index = 1; index < events.length; index += 1) {
    const ms = eventMs(events[index]!) - eventMs(events[index - 1]!);
    if (ms > longest.ms) {
      longest = { ms, workflowId, endedBy: eventKind(events[index]!), after: eventKind(events[index - 1]!) };
    }
  }
  return longest;
}

function signalMode(histories: HistoryEvent[][]): RunAnalysis['childSignals'] {
  let signals = 0;
  let sentWithNextActivity = 0;
  for (const events of histories) {
    for (const [index, event] of events.entries()) {
      const signal = event.signalExternalWorkflowExecutionInitiatedEventAttributes;
      if (!signal) continue;
      signals += 1;
      const next = events.slice(index + 1).find((later) => later.activityTaskScheduledEventAttributes);
      const task = next?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId;
      if (next && num(task) === num(signal.workflowTaskCompletedEventId)) sentWithNextActivity += 1;
    }
  }
  if (signals === 0) return 'none';
  return sentWithNextActivity > 0 ? 'unawaited' : 'awaited';
}

function countEvents(events: HistoryEvent[]): RunCounts {
  const count = (has: (event: HistoryEvent) => unknown) =>
    events.filter((event) => Boolean(has(event))).length;
  return {
    activities: count((event) => event.activityTaskScheduledEventAttributes),
    childWorkflows: count((event) => event.startChildWorkflowExecutionInitiatedEventAttributes),
    signalsSent: count((event) => event.signalExternalWorkflowExecutionInitiatedEventAttributes),
    signalsReceived: count((event) => event.workflowExecutionSignaledEventAttributes),
    upserts: count((event) => event.upsertWorkflowSearchAttributesEventAttributes),
    timers: count((event) => event.timerStartedEventAttributes),
    updatesAccepted: count((event) => event.workflowExecutionUpdateAcceptedEventAttributes),
    workflowTasks: count((event) => event.workflowTaskCompletedEventAttributes),
    historyEvents: events.length,
    payloadBytes: events.reduce((sum, event) => sum + binaryBytes(event), 0),
  };
}

function binaryBytes(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + binaryBytes(item), 0);
  if (value && typeof value === 'object') {
    let sum = 0;
    for (const key of Object.keys(value)) sum += binaryBytes((value as Record<string, unknown>)[key]);
    return sum;
  }
  return 0;
}

function sumCounts(list: RunCounts[]): RunCounts {
  const total = { ...list[0]! };
  for (const item of list.slice(1)) {
    for (const key of Object.keys(total) as (keyof RunCounts)[]) total[key] += item[key];
  }
  return total;
}

function profileEvents(events: HistoryEvent[]): RunProfile {
  const byId = new Map(events.map((event) => [num(event.eventId), event]));
  const between = (fromId: ProtoNumber, to: HistoryEvent) => {
    const from = byId.get(num(fromId));
    return from ? eventMs(to) - eventMs(from) : 0;
  };
  const profile: RunProfile = {
    workflowTaskQueueMs: 0,
    workflowTaskRunMs: 0,
    activityQueueMs: 0,
    activityRunMs: 0,
  };
  for (const event of events) {
    if (event.workflowTaskStartedEventAttributes) {
      profile.workflowTaskQueueMs += between(
        event.workflowTaskStartedEventAttributes.scheduledEventId,
        event,
      );
    } else if (event.workflowTaskCompletedEventAttributes) {
      profile.workflowTaskRunMs += between(event.workflowTaskCompletedEventAttributes.startedEventId, event);
    } else if (event.activityTaskStartedEventAttributes) {
      profile.activityQueueMs += between(event.activityTaskStartedEventAttributes.scheduledEventId, event);
    } else if (event.activityTaskCompletedEventAttributes) {
      profile.activityRunMs += between(event.activityTaskCompletedEventAttributes.startedEventId, event);
    }
  }
  return profile;
}

function sumProfiles(list: RunProfile[]): RunProfile {
  const total: RunProfile = {
    workflowTaskQueueMs: 0,
    workflowTaskRunMs: 0,
    activityQueueMs: 0,
    activityRunMs: 0,
  };
  for (const item of list) {
    for (const key of Object.keys(total) as (keyof RunProfile)[]) total[key] += item[key];
  }
  return total;
}

function stageOf(event: HistoryEvent): string | undefined {
  const field =
    event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.MedreleaseStage;
  if (!field?.data) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(field.data).toString('utf8'));
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

function timing(events: HistoryEvent[]): RunTiming {
  const started = events.find((event) => event.workflowExecutionStartedEventAttributes);
  const closed = events.findLast(
    (event) =>
      event.workflowExecutionCompletedEventAttributes ??
      event.workflowExecutionFailedEventAttributes ??
      event.workflowExecutionTimedOutEventAttributes ??
      event.workflowExecutionTerminatedEventAttributes ??
      event.workflowExecutionCanceledEventAttributes,
  );
  if (!started || !closed) throw new Error('the workflow has not closed: no timing');
  const totalMs = eventMs(closed) - eventMs(started);
  let signoffGapMs = 0;
  const awaiting = events.findIndex((event) => stageOf(event) === 'awaiting-signoff');
  const accepted = events.findIndex(
    (event, index) => index > awaiting && event.workflowExecutionUpdateAcceptedEventAttributes,
  );
  if (awaiting >= 0 && accepted > awaiting) {
    let scheduled = accepted;
    while (scheduled > awaiting && !events[scheduled]!.workflowTaskScheduledEventAttributes) scheduled -= 1;
    if (scheduled > awaiting) signoffGapMs = eventMs(events[scheduled]!) - eventMs(events[awaiting]!);
  }
  return { totalMs, signoffGapMs, orchestrationMs: totalMs - signoffGapMs };
}

/**
 * Cuts the top-level workflow's history into phases: everything scheduled by one workflow task is one
 * phase whose branches ran in parallel. An activity is a one-step branch; a child workflow is a branch
 * whose chain is the child's own activities and signals, in the order its history records them.
 */
function phasesOf(events: HistoryEvent[], children: Map<string, HistoryEvent[]>): BarePhase[] {
  const phases = new Map<number, BarePhase>();
  const phase = (taskId: ProtoNumber) => {
    const key = num(taskId);
    let found = phases.get(key);
    if (!found) {
      found = { upserts: 0, branches: [] };
      phases.set(key, found);
    }
    return found;
  };
  for (const event of events) {
    const activity = event.activityTaskScheduledEventAttributes;
    const child = event.startChildWorkflowExecutionInitiatedEventAttributes;
    const upsert = event.upsertWorkflowSearchAttributesEventAttributes;
    if (activity) {
      phase(activity.workflowTaskCompletedEventId).branches.push({ child: false, ops: ['activity'] });
    } else if (child) {
      const childEvents = children.get(child.workflowId ?? '') ?? [];
      const ops = childEvents.flatMap((childEvent): ChainOp[] =>
        childEvent.activityTaskScheduledEventAttributes
          ? ['activity']
          : childEvent.signalExternalWorkflowExecutionInitiatedEventAttributes
            ? ['signal']
            : [],
      );
      const branch: BareBranch = { child: true, ops };
      phase(child.workflowTaskCompletedEventId).branches.push(branch);
    } else if (upsert) {
      phase(upsert.workflowTaskCompletedEventId).upserts += 1;
    }
  }
  return [...phases.entries()].sort(([a], [b]) => a - b).map(([, value]) => value);
}

/** Describes a plan compactly, e.g. "1 → 1 → 1 → 1 → [1 ‖ 13] → [13 ‖ 13] → [1 ‖ 1 ‖ 1] → …". */
export function describePhases(phases: BarePhase[]): string {
  return phases
    .filter((phase) => phase.branches.length > 0)
    .map((phase) => {
      const parts = phase.branches.map((branch) => {
        const activities = branch.ops.filter((op) => op === 'activity').length;
        return branch.child ? `child(${activities})` : String(activities);
      });
      return parts.length === 1 ? parts[0]! : `[${parts.join(' ‖ ')}]`;
    })
    .join(' → ');
}

/** Activities on the longest path through the phases (each phase waits for its longest branch). */
export function criticalPathActivities(phases: BarePhase[]): number {
  return phases.reduce(
    (sum, phase) =>
      sum +
      Math.max(0, ...phase.branches.map((branch) => branch.ops.filter((op) => op === 'activity').length)),
    0,
  );
}
