// Tests read JSON bodies of responses whose shape each assertion checks anyway.
declare global {
  interface Response {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    json(): Promise<any>;
  }
}
export {};
