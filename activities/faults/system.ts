// The part of a system file the fault side reads. These types are the contract's
// (issue 11, activities/system/schema.ts, owned by the system-file loader); they are
// copied here only so that the fault modules compile before the loader lands, and
// will re-export the loader's definitions once it has.
export type Readiness = { http: string } | { tcp: string };
export interface ProcessServiceDecl {
  kind: 'process';
  /** Exactly one of pid_file | match | systemd_unit. */
  pid_file?: string;
  match?: string;
  systemd_unit?: string;
  start?: string;
  cwd?: string;
  env?: Record<string, string>;
  ready?: Readiness;
  url?: string;
  host?: string;
}
export interface DockerServiceDecl {
  kind: 'docker'; container: string; ready?: Readiness; url?: string; host?: string;
}
export type ServiceDecl = ProcessServiceDecl | DockerServiceDecl;
export interface ProxyDecl { listen: string; upstream: string }
export interface SystemFile {
  name: string;
  services: Record<string, ServiceDecl>;
  proxies: Record<string, ProxyDecl>;
  provider?: { admin_url: string };
  defaults?: Record<string, unknown>;
}

/** The host that runs a fault worker when a service names none. */
export const LOCAL_HOST = 'local';
