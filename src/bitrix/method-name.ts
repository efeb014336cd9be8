// Method names are dotted words (`imbot.v2.Chat.Message.send`): nothing else may reach a URL path
// or a batch command, where a `?` or `&` would smuggle parameters in.
const METHOD = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/

/** Whether `name` is a REST method name: dotted words of letters, digits and `_`. */
export function isMethodName(name: unknown): name is string {
  return typeof name === 'string' && METHOD.test(name)
}
