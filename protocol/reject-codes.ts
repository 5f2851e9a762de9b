/**
 * Why something was refused, as codes a program can act on (the `reason` beside them is for people):
 * the master's reasons for refusing an agent's hello, and the agent's reasons for not running a
 * command. Each code says whether trying again can help. Written down in docs/agent-protocol.md.
 */

/** Why the master refused a hello (`reject.code`). */
export const RejectCode = {
  /** The agent speaks another protocol version. */
  VersionMismatch: 'version_mismatch',
  /** Unknown agent name or wrong token: one code for both, so a prober learns nothing. */
  BadCredentials: 'bad_credentials',
  /** The master still holds an open connection for this agent name. */
  AlreadyConnected: 'already_connected',
  /** Too many failed authentications from this peer address; refused for the rest of the minute. */
  RateLimited: 'rate_limited',
  /** The first frame was not a valid `hello`: binary, not JSON, invalid, or another message. */
  ProtocolError: 'protocol_error',
  /** No hello within the handshake time. */
  HandshakeTimeout: 'handshake_timeout',
  /** The hello was fine but the master could not register the agent (its database, say). */
  MasterError: 'master_error',
} as const;
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];

/** Whether the same hello can succeed later: the agent reconnects with backoff after these, and stops after the others. */
export const REJECT_RETRYABLE = {
  version_mismatch: false, // the same agent sends the same version again
  bad_credentials: false, // and the same token
  already_connected: true, // the master notices the old connection close, or drops it when silent
  rate_limited: true, // the minute passes
  protocol_error: false, // the same program sends the same frame again
  handshake_timeout: true, // a slow network
  master_error: true, // the master's own trouble
} as const satisfies Record<RejectCode, boolean>;

/** Why the agent could not run a command (`error.code`); an `exit` with `code: null` follows. */
export const CommandErrorCode = {
  /** The workdir could not be created (a file in the way, no permission). */
  WorkdirInvalid: 'workdir_invalid',
  /** The program could not be started (not found, not executable). */
  SpawnFailed: 'spawn_failed',
  /** The system was out of processes, file descriptors or memory when starting it. */
  OutOfResources: 'out_of_resources',
  /** Transfer (protocol 3): the path leaves the builder's directory (through a symlink, say). */
  PathRefused: 'path_refused',
  /** Transfer: the file or directory to upload is not there, or is not what the step said. */
  NotFound: 'not_found',
  /** Transfer: more bytes than the step's maxsize. */
  TooLarge: 'too_large',
  /** Transfer: the bytes received do not match the sender's size and sha256. */
  ChecksumMismatch: 'checksum_mismatch',
  /** Transfer: reading or writing a file failed (no space, no permission). */
  IoError: 'io_error',
} as const;
export type CommandErrorCode = (typeof CommandErrorCode)[keyof typeof CommandErrorCode];

/** Whether running the same command again can succeed. */
export const COMMAND_ERROR_RETRYABLE = {
  workdir_invalid: false,
  spawn_failed: false,
  out_of_resources: true,
  path_refused: false,
  not_found: false,
  too_large: false,
  checksum_mismatch: true, // bytes damaged on the way may arrive whole the next time
  io_error: true, // a full disk may be freed
} as const satisfies Record<CommandErrorCode, boolean>;
