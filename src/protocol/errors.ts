// Every operating error's stable code, in one table: the HTTP status a client gets it with (null:
// it never reaches HTTP — the CLI, the wire, a node's log), what it means and the fix. The error
// classes (CodeArenaError and its ConfigError, WireError, the Gateway's start errors and ApiError,
// JudgeError, PackageError) carry these codes; test/protocol/errors.test.ts checks at compile time
// that each class's codes are rows here, and that docs/ERRORS.md lists exactly these rows.
// Broken invariants are not here: they are node:assert failures and crash the process.

export type ErrorFamily = 'sandbox' | 'config' | 'wire' | 'placement' | 'api' | 'judge' | 'package';

export interface ErrorRow {
  httpStatus: number | null;
  family: ErrorFamily;
  /** When it happens. */
  when: string;
  /** What to do about it. */
  hint: string;
}

export const ERROR_TABLE = {
  // CodeArenaError (src/common/errors.ts): the sandbox, the CLI, run requests.
  UNKNOWN_LANGUAGE: { httpStatus: 400, family: 'sandbox', when: 'the language is not one the lab (or this machine) offers', hint: 'pick one of `codearena languages`' },
  UNKNOWN_EXTENSION: { httpStatus: null, family: 'sandbox', when: 'the CLI cannot tell a file\'s language from its extension', hint: 'pass --lang' },
  FILE_NOT_FOUND: { httpStatus: null, family: 'sandbox', when: 'a file named on the command line does not exist', hint: 'check the path' },
  BAD_LIMIT: { httpStatus: 400, family: 'sandbox', when: 'a limit is not a positive number or is above the configured maximum', hint: 'ask for at most sandbox.limitsMax' },
  SOURCE_TOO_LARGE: { httpStatus: 413, family: 'sandbox', when: 'the program\'s files together pass the source cap', hint: 'send a smaller program' },
  BAD_FILE_NAME: { httpStatus: 400, family: 'sandbox', when: 'a file name has a directory, odd characters, or is given twice', hint: 'use letters, digits, "_", "-", "."; one name per file' },
  BWRAP_MISSING: { httpStatus: null, family: 'sandbox', when: 'bubblewrap is not installed on a Worker PC', hint: 'run scripts/setup.sh (installs bubblewrap)' },
  USERNS_DISABLED: { httpStatus: null, family: 'sandbox', when: 'the kernel forbids unprivileged user namespaces', hint: 'enable kernel.unprivileged_userns_clone (setup.sh says how)' },
  SANDBOX_USER_MISSING: { httpStatus: null, family: 'sandbox', when: 'a Worker runs as root and the codearena-sbx user does not exist', hint: 'run scripts/setup.sh' },
  TOOLCHAIN_MISSING: { httpStatus: null, family: 'sandbox', when: 'a language\'s compiler or interpreter is not installed', hint: 'install it (setup.sh lists the packages)' },
  INIT_MISSING: { httpStatus: null, family: 'sandbox', when: 'dist/native/ca-init was not built', hint: 'run npm run build' },
  BAD_INPUT: { httpStatus: null, family: 'sandbox', when: 'a CLI argument or file is not usable', hint: 'the message names the argument' },
  SANDBOX_FAILED: { httpStatus: null, family: 'sandbox', when: 'a sandbox could not start (bwrap failed)', hint: 'the message carries bwrap\'s own error' },
  // ConfigError (src/config/errors.ts), a CodeArenaError listing every problem of the file.
  BAD_CONFIG: { httpStatus: null, family: 'config', when: 'the lab config is not valid, or this node is not in it', hint: 'each line names the field and the fix' },
  // WireError (src/wire/errors.ts): one internal link; the link closes, nothing else.
  WIRE_TOO_LARGE: { httpStatus: null, family: 'wire', when: 'a frame\'s length header exceeds the frame bound', hint: 'a peer of another build or a hostile one' },
  WIRE_BAD_FRAME: { httpStatus: null, family: 'wire', when: 'a frame is not one MessagePack envelope {v, seq, msg}', hint: 'a peer of another build or a hostile one' },
  WIRE_VERSION: { httpStatus: null, family: 'wire', when: 'the peer speaks another protocol version', hint: 'run one build on every lab PC' },
  WIRE_INVALID: { httpStatus: null, family: 'wire', when: 'a message fails its schema', hint: 'the zod issues are listed' },
  WIRE_REPLAY: { httpStatus: null, family: 'wire', when: 'a frame\'s seq is not the next one', hint: 'replayed, reordered or lost frames: the link is reopened' },
  WIRE_SEND_OVERFLOW: { httpStatus: null, family: 'wire', when: 'the peer reads too slowly: the outgoing buffer passed its bound', hint: 'the peer is overloaded or stalled' },
  WIRE_HANDSHAKE: { httpStatus: null, family: 'wire', when: 'the TLS-PSK handshake failed', hint: 'check that every PC has the same cluster secret' },
  WIRE_PEER_REFUSED: { httpStatus: null, family: 'wire', when: 'the peer\'s name is malformed or not accepted here', hint: 'the peer must be a node of the lab config' },
  WIRE_IDLE: { httpStatus: null, family: 'wire', when: 'no byte arrived within the idle timeout', hint: 'the peer is gone or stalled' },
  WIRE_SOCKET: { httpStatus: null, family: 'wire', when: 'the TCP connection failed or was reset', hint: 'the peer is down or unreachable' },
  // The Gateway's start errors (src/gateway/backend.ts): the run was not placed now; retry.
  QUEUE_FULL: { httpStatus: 503, family: 'placement', when: 'every Worker is busy and the wait queue is at queue.runsMax', hint: 'try again in a moment' },
  NO_CAPACITY: { httpStatus: 503, family: 'placement', when: 'no Assigner is alive to take the run (or the Gateway closed before one took it)', hint: 'try again in a moment; check `codearena status`' },
  ASSIGNER_TIMEOUT: { httpStatus: 503, family: 'placement', when: 'the Assigner a Monitor named did not take the run within the ack window, asked twice', hint: 'try again in a moment' },
  // ApiError (src/gateway/server.ts) and the Gateway's other answers.
  UNAUTHORIZED: { httpStatus: 401, family: 'api', when: 'no or a wrong bearer token', hint: 'send a token from auth.tokens' },
  QUOTA: { httpStatus: 429, family: 'api', when: 'the user already has concurrentRunsMax runs going', hint: 'wait for one to end' },
  BAD_REQUEST: { httpStatus: 400, family: 'api', when: 'a body or query field is missing or malformed', hint: 'the message names the field' },
  NOT_FOUND: { httpStatus: 404, family: 'api', when: 'no such run (or resume token), asset, or file', hint: 'a run is kept a while after its end, not forever' },
  ALREADY_STARTED: { httpStatus: 400, family: 'api', when: 'a WebSocket that has a run sent "start" again', hint: 'open another connection' },
  NO_RUN: { httpStatus: 400, family: 'api', when: 'a WebSocket message other than "start"/"resume" came first', hint: 'start or resume a run first' },
  BAD_JSON: { httpStatus: null, family: 'api', when: 'a WebSocket message is not a JSON object', hint: 'send JSON objects' },
  BAD_MESSAGE: { httpStatus: null, family: 'api', when: 'a WebSocket message fails its schema', hint: 'the message names the field' },
  NOT_BUILT: { httpStatus: 404, family: 'api', when: 'the web client was not built', hint: 'run npm run build' },
  TOO_MANY_FEEDS: { httpStatus: 503, family: 'api', when: 'the Gateway feeds its most dashboards already', hint: 'close a dashboard' },
  INTERNAL: { httpStatus: 500, family: 'api', when: 'a bug', hint: 'the Gateway logged it: report it' },
  // JudgeError (src/judge/service.ts, routes.ts).
  UPLOAD_TOO_LARGE: { httpStatus: 413, family: 'judge', when: 'an upload passes its byte bound', hint: 'upload less at once' },
  EMPTY_BATCH: { httpStatus: 400, family: 'judge', when: 'a batch has no submissions', hint: 'send at least one' },
  DUPLICATE_STUDENT: { httpStatus: 400, family: 'judge', when: 'a batch names a student twice', hint: 'one submission per student' },
  BATCH_TOO_LARGE: { httpStatus: 413, family: 'judge', when: 'a batch has more submissions than allowed', hint: 'split it' },
  SUBMISSION_TOO_LARGE: { httpStatus: 413, family: 'judge', when: 'a submission\'s files pass the judge\'s per-submission bound (the standby copies each one whole)', hint: 'send a smaller program' },
  NO_SUCH_PROBLEM: { httpStatus: 404, family: 'judge', when: 'the problem id is not on this Gateway', hint: 'upload it again (POST /api/v1/problems)' },
  NO_SUCH_SUBMISSION: { httpStatus: 404, family: 'judge', when: 'no such submission on this Gateway (kept in memory and on the standby, not on disk)', hint: 'submit again' },
  NO_SUCH_BATCH: { httpStatus: 404, family: 'judge', when: 'no such batch on this Gateway (kept in memory and on the standby, not on disk)', hint: 'submit again' },
  JUDGE_QUEUE_FULL: { httpStatus: 503, family: 'judge', when: 'the judge holds its most unfinished tests', hint: 'try again when the current grading is done' },
  TOO_MANY_PROBLEMS: { httpStatus: 507, family: 'judge', when: 'the Gateway stores its most problems', hint: 'delete unused problems' },
  CLOSED: { httpStatus: 503, family: 'judge', when: 'the judge is shutting down (its Gateway stepped down)', hint: 'retry at the serving Gateway' },
  // PackageError (src/judge/package-files.ts): a problem package or a class's zip.
  PACKAGE_TOO_LARGE: { httpStatus: 413, family: 'package', when: 'a package passes its byte or file-count bound', hint: 'make it smaller' },
  BAD_PATH: { httpStatus: 400, family: 'package', when: 'a path in a package escapes it or is malformed', hint: 'use plain relative paths' },
  BAD_ZIP: { httpStatus: 400, family: 'package', when: 'a zip cannot be read', hint: 'zip it again' },
  BAD_PROBLEM: { httpStatus: 400, family: 'package', when: 'a problem package lacks or misshapes a part', hint: 'the message names the part; `codearena problem check`' },
} as const satisfies Record<string, ErrorRow>;

export type OperatingErrorCode = keyof typeof ERROR_TABLE;

/** The HTTP status a code is answered with; 500 for a code that never reaches HTTP (a bug if it does). */
export function httpStatusOf(code: OperatingErrorCode): number {
  return ERROR_TABLE[code].httpStatus ?? 500;
}
