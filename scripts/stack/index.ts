// The embedded stack: every real component of Ordeal on one machine, loopback only.
export { loadStackConfig, defaultPorts, StackConfigError, type StackConfig, type Ports, type PortName } from './config.ts';
export { up, down, status, readStackDefects, logFileOf, stackProcessIds, portFree, PortInUseError, ServiceStartError,
  type ServiceStatus, type ProgressEvent } from './supervisor.ts';
export type { ServiceSpec, ServiceContext } from './service.ts';
export { stackServices } from './services/index.ts';
export { ordealDbUrl } from './services/postgres.ts';
export { stackEnvironment, infraSettings } from './environment.ts';
export { embeddedSystem, writeSystemFile, systemFileOf } from './system-file.ts';
