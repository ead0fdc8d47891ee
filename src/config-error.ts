// A configuration that cannot start the service: the variable that is wrong, and what is wrong with it.
export class ConfigError extends Error {
  constructor (readonly variable: string, detail: string) {
    super(`${variable}: ${detail}`)
    this.name = 'ConfigError'
  }
}
