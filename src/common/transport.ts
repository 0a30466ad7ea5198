/**
 * The links to other members, as every driver uses them (the Gateway's ClusterBackend, the
 * AssignerDriver, the WorkerDriver): one port, so a driver runs the same over TLS-PSK (the agent's
 * PeerLinks, src/agent/peers.ts, satisfies it as is) and over a simulated network
 * (src/sim/runpath/links.ts) or a test's recording twin.
 */
export interface Transport<M> {
  /**
   * Queues msg for the member named `to` and never blocks. False when it was dropped at once
   * (the transport is closed, or the link's bounded buffer refused it); true does not mean it
   * arrives — the run protocols resend what an ack or a gap shows was lost.
   */
  send(to: string, msg: M): boolean;
  /**
   * Resolves once the link to `to` has room again (or is not even trying to open): a stream's
   * producer awaits it after a send, so a slow peer's back-pressure reaches it.
   */
  whenWritable(to: string): Promise<void>;
}
