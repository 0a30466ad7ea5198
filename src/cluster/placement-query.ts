import type {
  LeastLoadedAssignerReply,
  LeastLoadedAssignerRequest,
  Load,
  NodeName,
  WireEntry,
} from './messages.js';
import type { Outbox } from './output.js';

/** Busy share of an Assigner's run slots; an Assigner advertising no slots counts as full. */
export function busyRatio(load: Load): number {
  const slots = load.slotsBusy + load.slotsFree;
  return slots === 0 ? 1 : load.slotsBusy / slots;
}

/**
 * The Gateway's question: where should a new run go? Alive Assigners only (a suspect one may be
 * dying), least busy share first, then name so every Monitor with the same table gives the same
 * answer.
 */
export function leastLoadedAssigner(entries: Iterable<WireEntry>): NodeName | null {
  let best: WireEntry | null = null;
  let bestRatio = Number.POSITIVE_INFINITY;
  for (const e of entries) {
    if (e.role !== 'assigner' || e.status !== 'alive') continue;
    const ratio = busyRatio(e.load);
    if (ratio < bestRatio || (ratio === bestRatio && best !== null && e.name < best.name)) {
      best = e;
      bestRatio = ratio;
    }
  }
  return best?.name ?? null;
}

export function answerLeastLoaded(
  self: NodeName,
  request: LeastLoadedAssignerRequest,
  entries: Iterable<WireEntry>,
  out: Outbox,
): void {
  const reply: LeastLoadedAssignerReply = {
    type: 'least_loaded_assigner_reply',
    from: self,
    requestId: request.requestId,
    assigner: leastLoadedAssigner(entries),
  };
  out.messages.push({ to: request.from, message: reply });
}
