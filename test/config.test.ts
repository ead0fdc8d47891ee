// loadConfig: the contract's defaults, a ConfigError naming the variable for every bad value, the loopback rule for empty API_KEYS, and the real process refusing a bad PORT.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'
import { entryPoint, startExpectingFailure } from './helpers/process.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const VALID_KEYS = 'router:router-secret-1:write,gateway:gateway-secret-1:read+ack'

/** loadConfig(env) must throw a ConfigError for `variable`, whose message names it. */
function expectConfigError (t: Test, env: Record<string, string>, variable: string): void {
  let thrown: unknown
  try {
    loadConfig(env)
  } catch (error) {
    thrown = error
  }
  t.ok(thrown instanceof ConfigError, `throws a ConfigError for ${JSON.stringify(env)}`)
  if (!(thrown instanceof ConfigError)) return
  t.equal(thrown.variable, variable)
  t.match(thrown.message, new RegExp(`\\b${variable}\\b`), 'the message names the variable')
}

t.test('the defaults are the contract\'s table', async (t) => {
  const config = loadConfig({})
  t.strictSame({
    host: config.listen.host,
    port: config.listen.port,
    databaseUrl: config.database.databaseUrl,
    apiKeys: config.apiKeys,
    messageTtlSeconds: config.rules.messageTtlSeconds,
    maxPendingPerReceiver: config.rules.maxPendingPerReceiver,
    overflowPolicy: config.rules.overflowPolicy,
    maxContentLength: config.http.maxContentLength,
    dedupWindowSeconds: config.rules.dedupWindowSeconds,
    bodyLimitBytes: config.http.bodyLimitBytes,
    logLevel: config.logLevel
  }, {
    host: '127.0.0.1',
    port: 3000,
    databaseUrl: 'sqlite:./data/offline-messages.db',
    apiKeys: [],
    messageTtlSeconds: 2592000,
    maxPendingPerReceiver: 10000,
    overflowPolicy: 'reject',
    maxContentLength: 4096,
    dedupWindowSeconds: 86400,
    bodyLimitBytes: 1048576,
    logLevel: 'info'
  })
})

t.test('valid values of every variable are read and typed', async (t) => {
  const config = loadConfig({
    HOST: '0.0.0.0',
    PORT: '8080',
    DATABASE_URL: 'postgres://user@db.example:5432/messages',
    API_KEYS: VALID_KEYS,
    MESSAGE_TTL_SECONDS: '3600',
    MAX_PENDING_PER_RECEIVER: '2',
    OVERFLOW_POLICY: 'drop_oldest',
    MAX_CONTENT_LENGTH: '10',
    DEDUP_WINDOW_SECONDS: '0',
    BODY_LIMIT_BYTES: '1024',
    LOG_LEVEL: 'debug'
  })
  t.match(config, {
    listen: { host: '0.0.0.0', port: 8080 },
    database: { databaseUrl: 'postgres://user@db.example:5432/messages' },
    rules: { messageTtlSeconds: 3600, maxPendingPerReceiver: 2, overflowPolicy: 'drop_oldest', dedupWindowSeconds: 0 },
    http: { maxContentLength: 10, bodyLimitBytes: 1024 },
    logLevel: 'debug'
  })
  t.strictSame(config.apiKeys.map((key) => ({ ...key, scopes: [...key.scopes] })), [
    { name: 'router', secret: 'router-secret-1', scopes: ['write'] },
    { name: 'gateway', secret: 'gateway-secret-1', scopes: ['read', 'ack'] }
  ])
})

t.test('the configuration is frozen', async (t) => {
  const config = loadConfig({ API_KEYS: VALID_KEYS })
  t.ok(Object.isFrozen(config))
  t.ok(Object.isFrozen(config.apiKeys))
  for (const section of [config.listen, config.database, config.rules, config.http]) t.ok(Object.isFrozen(section))
})

t.test('loadConfig reads only the variables it is given, never process.env', async (t) => {
  // A child process with PORT=abc and LOG_LEVEL=debug in its environment calls loadConfig({}): the defaults must win.
  const config = entryPoint('src/config.ts')
  const script = `import { loadConfig } from './${config.file}'; const c = loadConfig({}); console.log(JSON.stringify({ port: c.listen.port, logLevel: c.logLevel }))`
  const child = spawnSync(process.execPath, [...config.nodeArgs, '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: 'abc', LOG_LEVEL: 'debug' },
    encoding: 'utf8',
    timeout: 30_000
  })
  t.equal(child.status, 0, `exits 0; stderr: ${child.stderr.slice(0, 300)}`)
  t.strictSame(JSON.parse(child.stdout.trim() || '{}'), { port: 3000, logLevel: 'info' })
})

const BAD_VALUES: Array<[string, string]> = [
  ['PORT', 'abc'],
  ['PORT', '70000'],
  ['PORT', '-1'],
  ['PORT', '80.5'],
  ['MESSAGE_TTL_SECONDS', '0'],
  ['MESSAGE_TTL_SECONDS', 'month'],
  ['MAX_PENDING_PER_RECEIVER', '-1'],
  ['MAX_PENDING_PER_RECEIVER', '0'],
  ['OVERFLOW_POLICY', 'maybe'],
  ['MAX_CONTENT_LENGTH', 'x'],
  ['MAX_CONTENT_LENGTH', '0'],
  ['DEDUP_WINDOW_SECONDS', '-5'],
  ['BODY_LIMIT_BYTES', 'abc'],
  ['BODY_LIMIT_BYTES', '1023'],
  ['LOG_LEVEL', 'loud'],
  ['DATABASE_URL', 'mysql://x'],
  ['DATABASE_URL', 'postgres://'],
  ['DATABASE_URL', 'sqlite:'],
  ['DATABASE_URL', './data/messages.db']
]
for (const [variable, value] of BAD_VALUES) {
  t.test(`${variable}=${value} is a ConfigError naming ${variable}`, async (t) => {
    expectConfigError(t, { API_KEYS: VALID_KEYS, [variable]: value }, variable)
  })
}

// Every enumeration of the configuration: a bad value's error lists the values it may take.
const ENUMERATIONS: Array<[string, string, readonly string[]]> = [
  ['OVERFLOW_POLICY', 'drop', ['reject', 'drop_oldest']],
  ['LOG_LEVEL', 'loud', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']]
]
for (const [variable, value, allowed] of ENUMERATIONS) {
  t.test(`${variable}=${value} is refused with the values ${variable} may take`, async (t) => {
    t.throws(() => loadConfig({ API_KEYS: VALID_KEYS, [variable]: value }), new ConfigError(variable, `must be one of ${allowed.join(', ')}`))
    for (const good of allowed) t.doesNotThrow(() => loadConfig({ API_KEYS: VALID_KEYS, [variable]: good }), `${variable}=${good} is one of them`)
  })
}

t.test('the real process with OVERFLOW_POLICY=drop exits non-zero with one line listing the allowed values', async (t) => {
  const { code, output } = await startExpectingFailure({ OVERFLOW_POLICY: 'drop', API_KEYS: VALID_KEYS })
  t.not(code, 0)
  t.equal(output, 'offline-messages: not starting: OVERFLOW_POLICY: must be one of reject, drop_oldest\n')
})

const BAD_API_KEYS: Array<[string, string]> = [
  ['an entry with one part', 'router'],
  ['an entry with two parts', 'router:router-secret-1'],
  ['an entry with four parts', 'router:router-secret-1:write:extra'],
  ['an empty name', ':router-secret-1:write'],
  ['a name with a space', 'the router:router-secret-1:write'],
  ['a secret shorter than 8 characters', 'router:short:write'],
  ['a secret with a character outside the set', 'router:router/secret:write'],
  ['an unknown scope', 'router:router-secret-1:superuser'],
  ['an empty scope list', 'router:router-secret-1:'],
  ['a scope list with an empty scope', 'router:router-secret-1:write+'],
  ['a duplicate name', 'router:router-secret-1:write,router:router-secret-2:read'],
  ['a duplicate secret', 'router:shared-secret-1:write,gateway:shared-secret-1:read+ack'],
  ['one bad entry among good ones', `${VALID_KEYS},broken`]
]
for (const [label, value] of BAD_API_KEYS) {
  t.test(`API_KEYS with ${label} is a ConfigError naming API_KEYS`, async (t) => {
    expectConfigError(t, { API_KEYS: value }, 'API_KEYS')
  })
  t.test(`the ConfigError for API_KEYS with ${label} does not repeat a secret`, async (t) => {
    const secrets = value.split(',').map((entry) => entry.split(':')[1] ?? '').filter((secret) => secret.length >= 8)
    try {
      loadConfig({ API_KEYS: value })
      t.fail('should have thrown')
    } catch (error) {
      for (const secret of secrets) t.notMatch(String(error), secret)
    }
  })
}

t.test('API_KEYS entries may be separated by spaces after the commas', async (t) => {
  const config = loadConfig({ API_KEYS: 'router:router-secret-1:write, gateway:gateway-secret-1:read+ack' })
  t.strictSame(config.apiKeys.map((key) => key.name), ['router', 'gateway'])
})

t.test('API_KEYS knows the scope admin (erasure, v1.2), alone or beside the others', async (t) => {
  const config = loadConfig({ API_KEYS: 'ops:ops-secret-1:admin,root:root-secret-1:write+admin' })
  t.strictSame(config.apiKeys.map((key) => key.scopes), [['admin'], ['write', 'admin']])
})

for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
  t.test(`empty API_KEYS with HOST=${host} is a ConfigError naming API_KEYS`, async (t) => {
    expectConfigError(t, { HOST: host, API_KEYS: '' }, 'API_KEYS')
    expectConfigError(t, { HOST: host }, 'API_KEYS')
  })
}

for (const host of ['127.0.0.1', '::1', 'localhost']) {
  t.test(`empty API_KEYS with HOST=${host} is accepted: authentication is off on a loopback address`, async (t) => {
    const config = loadConfig({ HOST: host, API_KEYS: '' })
    t.equal(config.listen.host, host)
    t.strictSame(config.apiKeys, [])
  })
}

t.test('API_KEYS set allows a non-loopback HOST', async (t) => {
  t.equal(loadConfig({ HOST: '0.0.0.0', API_KEYS: VALID_KEYS }).listen.host, '0.0.0.0')
})

t.test('the real process with a bad PORT exits non-zero with a message naming PORT', async (t) => {
  const { code, output } = await startExpectingFailure({ PORT: 'abc', API_KEYS: VALID_KEYS })
  t.type(code, 'number', `exited on its own (${String(code)})`)
  t.not(code, 0)
  t.match(output, /\bPORT\b/)
  t.notMatch(output, /Server listening/)
})
