import type { LabConfig } from '../config/index.js';
import { listen, type Listener } from '../wire/index.js';
import type { AddressBook } from './address-book.js';
import type { Logger } from './log.js';
import { PeerLinks } from './peers.js';
import { WireMessageForm, type WireMessage } from './wire-messages.js';

/** Handles one message; a returned promise holds back that link's next message (back-pressure). */
export type Dispatch = (from: string, msg: WireMessage) => void | Promise<void>;

interface LinkOptions {
  config: LabConfig;
  name: string;
  book: AddressBook;
  log: Logger;
  dispatch: Dispatch;
}

/** Outgoing links of a cluster member (node agent, Worker process, heartbeat thread). */
export function memberLinks(o: LinkOptions): PeerLinks<WireMessage> {
  return new PeerLinks<WireMessage>({
    name: o.name,
    secret: o.config.cluster.secret as string,
    schema: WireMessageForm,
    logger: o.log,
    resolve: (p) => o.book.resolve(p),
    onMessage: (from, msg) => void o.dispatch(from, msg),
    isReply: (msg) => msg.type === 'heartbeat_ack',
  });
}

/**
 * A cluster member's listener: peers named in the config only, every message to `dispatch`. A
 * heartbeat's ack goes back on the link the heartbeat came on (`replies`, PeerLinks.replyVia).
 */
export function listenForMembers(o: LinkOptions & { host: string; port: number; replies: PeerLinks<WireMessage> }): Promise<Listener> {
  return listen<WireMessage>({
    host: o.host,
    port: o.port,
    secret: o.config.cluster.secret as string,
    name: o.name,
    schema: WireMessageForm,
    logger: o.log,
    acceptPeer: (p) => o.book.has(p),
    onConnection: (conn) =>
      void (async () => {
        try {
          for await (const msg of conn) {
            if (msg.type === 'heartbeat') o.replies.replyVia(conn.peerName, conn);
            const pending = o.dispatch(conn.peerName, msg);
            if (pending) await pending;
          }
        } finally {
          o.replies.forgetReplyLink(conn.peerName, conn);
        }
      })(),
    onRejected: (r) => o.log.warn({ remote: r.remoteAddress, code: r.error.code }, `refused a peer: ${r.error.message}`),
  });
}
