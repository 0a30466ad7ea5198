// The lab config: schema, loading, `codearena init` and the local cluster `codearena up` runs.
export { ConfigError, formatPath, type ConfigProblem } from './errors.js';
export { randomSecret, renderExampleConfig, writeExampleConfig, type ExampleOptions, type WriteExampleOptions } from './init.js';
export { CONFIG_BYTES_MAX, detectFormat, loadConfig, parseLabConfig, type ParseOptions } from './load.js';
export { localClusterConfig, type LocalClusterOptions } from './local.js';
export { labConfigSchema } from './checks.js';
export {
  NODE_ROLES,
  workersPerHost,
  type LabConfig,
  type LabConfigInput,
  type NodeConfig,
  type NodeRole,
} from './schema.js';
