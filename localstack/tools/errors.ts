/** A tool was called wrongly (bad option, missing topic…): the message says what to write instead. */
export class ToolUsageError extends Error {
  override readonly name = "ToolUsageError";
}
