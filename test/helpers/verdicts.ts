// Every step verdict of a CloudRolloutWorkflow, read from its history (the results of its judgeCanary
// activities), whether the rollout passed or failed: a failed rollout's result holds none of them.
import type { Client } from '@temporalio/client';
import type { StepVerdict } from '../../domain/status.js';
import { decodePayload } from './payloads.js';

export async function stepVerdicts(client: Client, workflowId: string): Promise<StepVerdict[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const judged = new Set<string>();
  const verdicts: StepVerdict[] = [];
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name === 'judgeCanary') judged.add(String(event.eventId));
    const completed = event.activityTaskCompletedEventAttributes;
    const payload = completed?.result?.payloads?.[0];
    if (completed && payload && judged.has(String(completed.scheduledEventId))) {
      verdicts.push(await decodePayload<StepVerdict>(client, payload));
    }
  }
  return verdicts;
}
