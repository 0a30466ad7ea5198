// piston-client ships no types: the part of its API the tests use.
declare module 'piston-client' {
  interface PistonClient {
    runtimes(): Promise<unknown>;
    execute(language: string, code: string, config?: Record<string, unknown>): Promise<unknown>;
  }
  export function piston(opts?: { server?: string }): PistonClient;
  export default piston;
}
