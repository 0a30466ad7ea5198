import { labConfigShape, type NodeConfig, type ParsedLabConfig } from './schema.js';

// Rules that span fields. Each problem names where (a path), what is wrong, and the fix; the
// message reads "what — fix". Pure: no file is read here.

export interface RawProblem {
  path: Array<string | number>;
  message: string;
}

const NAMES_LISTED_MAX = 8;

function problem(path: RawProblem['path'], what: string, fix: string): RawProblem {
  return { path, message: `${what} — ${fix}` };
}

/** The full validation: shape first (schema.ts), then the rules that span fields. */
export const labConfigSchema = labConfigShape.superRefine((config, ctx) => {
  for (const problem of crossFieldProblems(config)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
});

export function crossFieldProblems(config: ParsedLabConfig): RawProblem[] {
  return [
    ...secretProblems(config),
    ...duplicateNodeProblems(config.nodes),
    ...gatewayProblems(config),
    ...pinnedGatewayProblems(config),
    ...capacityProblems(config),
    ...psiProblems(config),
    ...sandboxProblems(config),
    ...authProblems(config),
  ];
}

function secretProblems({ cluster }: ParsedLabConfig): RawProblem[] {
  if (cluster.secret !== undefined && cluster.secretFile !== undefined) {
    return [problem(['cluster', 'secretFile'], 'both cluster.secret and cluster.secretFile are set', 'keep exactly one')];
  }
  if (cluster.secret === undefined && cluster.secretFile === undefined) {
    const fix = 'set cluster.secret or cluster.secretFile (`codearena init` makes one)';
    return [problem(['cluster', 'secret'], 'no cluster secret', fix)];
  }
  return [];
}

function duplicateNodeProblems(nodes: readonly NodeConfig[]): RawProblem[] {
  const problems: RawProblem[] = [];
  const byName = new Map<string, number>();
  const byEndpoint = new Map<string, number>();
  nodes.forEach((node, i) => {
    const sameName = byName.get(node.name);
    if (sameName !== undefined) {
      const what = `duplicate name "${node.name}" (nodes[${sameName}] has it too)`;
      problems.push(problem(['nodes', i, 'name'], what, 'node names must be unique'));
    } else byName.set(node.name, i);
    // Hostnames are case-insensitive: PC-07 and pc-07 are one machine.
    const endpoint = `${node.address.toLowerCase()}:${node.port}`;
    const sameEndpoint = byEndpoint.get(endpoint);
    if (sameEndpoint !== undefined) {
      const what = `${endpoint} is also nodes[${sameEndpoint}]'s address and port`;
      problems.push(problem(['nodes', i, 'port'], what, 'give each node its own address:port'));
    } else byEndpoint.set(endpoint, i);
  });
  return problems;
}

function gatewayProblems({ gateway, nodes }: ParsedLabConfig): RawProblem[] {
  const problems: RawProblem[] = [];
  const host = nodes.find((n) => n.name === gateway.host);
  if (host === undefined) {
    const names = nodes.slice(0, NAMES_LISTED_MAX).map((n) => n.name);
    if (nodes.length > NAMES_LISTED_MAX) names.push('…');
    const fix = `set it to the node that runs the Gateway (one of: ${names.join(', ')})`;
    problems.push(problem(['gateway', 'host'], `"${gateway.host}" is not a node name`, fix));
  } else {
    // Nodes sharing the host's address share its ports (a whole cluster on one PC, for one).
    const sameHost = (n: NodeConfig): boolean => n.address.toLowerCase() === host.address.toLowerCase();
    const clash = nodes.find((n) => sameHost(n) && n.port === gateway.port);
    if (clash) {
      const what = `${gateway.port} is also ${clash.name}'s internal port on the same PC`;
      problems.push(problem(['gateway', 'port'], what, 'pick another port'));
    }
  }
  // Any Monitor may take over as Gateway: the standby port must be free on every Monitor's PC.
  const standbyPort = gateway.standbyPort ?? gateway.port;
  for (const m of nodes.filter((n) => n.role === 'monitor')) {
    const clash = nodes.find((n) => n.address.toLowerCase() === m.address.toLowerCase() && n.port === standbyPort);
    if (clash) {
      const what = `${standbyPort} is also ${clash.name}'s internal port on Monitor ${m.name}'s PC, where the Gateway standby would serve`;
      problems.push(problem(['gateway', gateway.standbyPort === undefined ? 'port' : 'standbyPort'], what, 'pick another gateway.standbyPort'));
      break;
    }
  }
  const holder = nodes.findIndex((n) => n.address === gateway.virtualIp);
  if (gateway.virtualIp !== undefined && holder >= 0) {
    const what = `${gateway.virtualIp} is nodes[${holder}]'s own address`;
    problems.push(problem(['gateway', 'virtualIp'], what, 'use a free address on the lab subnet'));
  }
  return problems;
}

/** Pinning the Gateway elsewhere than gateway.host would make two Gateways: one is the rule. */
function pinnedGatewayProblems({ gateway, nodes }: ParsedLabConfig): RawProblem[] {
  // An unknown gateway.host is reported once, by gatewayProblems.
  if (!nodes.some((n) => n.name === gateway.host)) return [];
  const problems: RawProblem[] = [];
  nodes.forEach((node, i) => {
    if (node.role !== 'gateway' || node.name === gateway.host) return;
    const what = `"${node.name}" is pinned as gateway but gateway.host is "${gateway.host}"`;
    problems.push(problem(['nodes', i, 'role'], what, `exactly one Gateway is active: pin only ${gateway.host}`));
  });
  return problems;
}

/** Roles are one per PC, so the minimums need that many PCs; pinned counts may differ (healing fixes them). */
function capacityProblems({ nodes, roles }: ParsedLabConfig): RawProblem[] {
  const needed = 1 + roles.monitorsMin + roles.assignersMin + roles.workerHostsMin;
  if (nodes.length >= needed) return [];
  const sum = `1 Gateway + ${roles.monitorsMin} Monitors + ${roles.assignersMin} Assigners + ${roles.workerHostsMin} Worker hosts`;
  const what = `${nodes.length} nodes cannot hold the minimum roles: ${sum} = ${needed}`;
  return [problem(['nodes'], what, 'add nodes or lower the roles.* minimums')];
}

function psiProblems({ psi }: ParsedLabConfig): RawProblem[] {
  if (psi.acceptBelow < psi.pauseAbove) return [];
  const what = `acceptBelow (${psi.acceptBelow}) must be below pauseAbove (${psi.pauseAbove})`;
  return [problem(['psi', 'acceptBelow'], what, 'else a Worker would pause the runs it has just accepted')];
}

function sandboxProblems({ sandbox }: ParsedLabConfig): RawProblem[] {
  const problems: RawProblem[] = [];
  for (const key of Object.keys(sandbox.limitsDefault) as Array<keyof typeof sandbox.limitsDefault>) {
    const fallback = sandbox.limitsDefault[key];
    const max = sandbox.limitsMax[key];
    if (fallback <= max) continue;
    const fix = `lower it or raise sandbox.limitsMax.${key}`;
    problems.push(problem(['sandbox', 'limitsDefault', key], `default ${fallback} is above the maximum ${max}`, fix));
  }
  return problems;
}

function authProblems({ auth }: ParsedLabConfig): RawProblem[] {
  const problems: RawProblem[] = [];
  if (auth.enabled && auth.tokens.length === 0) {
    const fix = 'add a token or set auth.enabled: false (only on a closed network)';
    problems.push(problem(['auth', 'tokens'], 'auth is enabled but no token is listed', fix));
  }
  const seen = new Map<string, number>();
  auth.tokens.forEach((t, i) => {
    const first = seen.get(t.token);
    if (first === undefined) return void seen.set(t.token, i);
    const fix = 'every token must be unique, or a user would be mistaken for another';
    problems.push(problem(['auth', 'tokens', i, 'token'], `same token as auth.tokens[${first}]`, fix));
  });
  return problems;
}
