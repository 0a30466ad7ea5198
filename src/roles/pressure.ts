import type { PressureSamplerFactory } from '../agent/context.js';
import { joinAccountingGroup } from '../worker/accounting.js';
import { PsiSampler } from '../worker/psi.js';

/**
 * The PC's pressure from Linux PSI, over `psi.windowMs`. The agent moves itself into its own
 * accounting group first, so the pressure it reports leaves out what CodeArena itself causes.
 */
export const psiPressure: PressureSamplerFactory = (config, self) => {
  const ownGroup = joinAccountingGroup(config.cluster.name, self.name);
  return new PsiSampler({ windowMs: config.psi.windowMs, ...(ownGroup ? { excludeGroup: ownGroup } : {}) });
};
