// The compute dtype a run uses on its device, said once in the run's log (model/compute_dtype.ts).
import { resolveComputeDtype, type ComputeDtypeChoice, type ComputeDtypeDecision } from '../model/compute_dtype.js';
import { dtypeMachine } from '../native/runtime.js';

export function resolveRunDtype(choice: ComputeDtypeChoice, device: string, log: (m: string) => void): ComputeDtypeDecision {
  const decision = resolveComputeDtype(choice, device, dtypeMachine());
  log(decision.reason);
  if (decision.warning) log(`warning: ${decision.warning}`);
  return decision;
}
