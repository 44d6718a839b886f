/** A local server could not be prepared, started or reached; the message says what to do. */
export class LocalServerError extends Error {
  override readonly name: string = "LocalServerError";
}

/** A port the servers need is taken. */
export class PortInUseError extends LocalServerError {
  override readonly name = "PortInUseError";
  constructor(
    readonly port: number,
    readonly purpose: string,
    readonly envVar: string,
  ) {
    super(
      `Port ${port} (${purpose}) is already in use on 127.0.0.1. Stop whatever holds it ` +
        `('npm run infra:down' if it is ours, 'ss -ltnp | grep :${port}' shows the owner) ` +
        `or choose another port with ${envVar}=<port> (0 picks a free one).`,
    );
  }
}
