// Placeholder entry point so the CDK app can bundle it; the handler is built in issue 4.
export const handler = async (): Promise<never> => {
  throw new Error("the window function is not built yet");
};
