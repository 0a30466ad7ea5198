import { execFile } from 'node:child_process';

// The Gateway's virtual IP: the node serving the Gateway adds the address to the interface that
// holds its own address (same prefix length) and announces it with gratuitous ARP, so clients'
// ARP caches move to its MAC at once; a Gateway that steps down removes it. Commands go through an
// injected runner, so tests check exactly what would run without root or a network namespace.

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type CommandRunner = (cmd: string, args: string[]) => Promise<CommandResult>;

export interface VipLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Runs a command without a shell; a missing binary is code 127. */
export const execRunner: CommandRunner = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: 5_000 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      const code = e === null ? 0 : typeof e.code === 'number' ? e.code : e.code === 'ENOENT' ? 127 : 1;
      resolve({ code, stdout: String(stdout), stderr: String(stderr || (e && e.code === 'ENOENT' ? `${cmd}: not found` : '')) });
    });
  });

export interface VirtualIpOptions {
  /** The virtual IPv4 address (gateway.virtualIp). */
  address: string;
  /** This node's own address: the interface holding it gets the virtual one. */
  ownAddress: string;
  run?: CommandRunner;
  log: VipLogger;
}

/** An interface and prefix length: where this node's own address lives. */
export interface Placement {
  iface: string;
  prefix: number;
}

/** Finds the interface and prefix of `address` in `ip -o -4 addr show` output. */
export function findPlacement(ipOutput: string, address: string): Placement | null {
  for (const line of ipOutput.split('\n')) {
    // "2: eth0    inet 198.18.0.2/24 brd 198.18.0.255 scope global eth0\       valid_lft ..."
    const m = /^\d+:\s+(\S+)\s+inet\s+(\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(line);
    if (m && m[2] === address) return { iface: (m[1] as string).replace(/@.*$/, ''), prefix: Number(m[3]) };
  }
  return null;
}

function lacksPrivilege(stderr: string): boolean {
  return /Operation not permitted|Permission denied|EPERM/i.test(stderr);
}

export class VirtualIp {
  private readonly run: CommandRunner;
  private held: Placement | null = null;

  constructor(private readonly o: VirtualIpOptions) {
    this.run = o.run ?? execRunner;
  }

  get holding(): boolean {
    return this.held !== null;
  }

  /**
   * Adds the address and sends gratuitous ARP. Returns false (after one clear log line) when it
   * cannot: no CAP_NET_ADMIN, no interface with this node's address, or `ip` missing. The
   * caller serves on its own address either way.
   */
  async acquire(): Promise<boolean> {
    const { address, ownAddress, log } = this.o;
    const show = await this.run('ip', ['-o', '-4', 'addr', 'show']);
    const where = show.code === 0 ? findPlacement(show.stdout, ownAddress) : null;
    if (!where) {
      log.error({ event: 'vip', address, error: show.stderr.trim() || 'no interface' }, `cannot take the virtual IP ${address}: no interface holds this node's address ${ownAddress}${show.code !== 0 ? ` (ip: ${show.stderr.trim()})` : ''}; serving on ${ownAddress} only`);
      return false;
    }
    const cidr = `${address}/${where.prefix}`;
    const add = await this.run('ip', ['addr', 'add', cidr, 'dev', where.iface]);
    if (add.code !== 0 && !/File exists/.test(add.stderr)) {
      const why = lacksPrivilege(add.stderr)
        ? 'this agent lacks CAP_NET_ADMIN (run it as root, or grant it: setcap cap_net_admin+ep on node, or AmbientCapabilities=CAP_NET_ADMIN in its systemd unit)'
        : `ip addr add failed: ${add.stderr.trim()}`;
      log.error({ event: 'vip', address, error: add.stderr.trim() }, `cannot take the virtual IP ${address}: ${why}; serving on ${ownAddress} only`);
      return false;
    }
    this.held = where;
    // Unsolicited (gratuitous) ARP: every host on the segment updates its entry for the address.
    const arp = await this.run('arping', ['-U', '-c', '2', '-I', where.iface, address]);
    if (arp.code !== 0) {
      log.error({ event: 'vip', address, error: arp.stderr.trim() }, `took the virtual IP ${address} on ${where.iface} but gratuitous ARP failed (${arp.stderr.trim() || `exit ${arp.code}`}; install iputils-arping): clients may reach the old MAC until their ARP entry expires`);
    } else {
      log.info({ event: 'vip', address, iface: where.iface }, `took the virtual IP ${cidr} on ${where.iface} and sent gratuitous ARP`);
    }
    return true;
  }

  /** Removes the address if this node added it. */
  async release(): Promise<void> {
    const where = this.held;
    if (!where) return;
    this.held = null;
    const del = await this.run('ip', ['addr', 'del', `${this.o.address}/${where.prefix}`, 'dev', where.iface]);
    if (del.code !== 0 && !/Cannot assign requested address/.test(del.stderr)) {
      this.o.log.error({ event: 'vip', address: this.o.address, error: del.stderr.trim() }, `could not drop the virtual IP ${this.o.address}: ${del.stderr.trim()}`);
    } else {
      this.o.log.info({ event: 'vip', address: this.o.address }, `dropped the virtual IP ${this.o.address}`);
    }
  }
}
