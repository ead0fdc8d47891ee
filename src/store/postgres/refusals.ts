// PostgreSQL's refusals of DATABASE_URL itself (no such database, a role that may not log in, a wrong password): what
// is wrong and what to do, in one line without the URL's password.

/** Where DATABASE_URL points, in the words of a refusal: never its password. */
interface Target { host: string, port: string, database: string, role: string }

function targetOf (databaseUrl: string, serverMessage: string): Target {
  const url = new URL(databaseUrl)
  const decoded = (part: string): string => {
    try {
      return decodeURIComponent(part)
    } catch {
      return part
    }
  }
  return {
    host: url.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: url.port || '5432',
    database: decoded(url.pathname.replace(/^\//, '')) || decoded(url.username),
    // The server names the role it refused (pg's default, the OS user, when the URL names none).
    role: /role "([^"]+)"/.exec(serverMessage)?.[1] ?? decoded(url.username)
  }
}

/** PostgreSQL's refusals of a connection, by SQLSTATE: what the server said, and what the operator can do. */
const REFUSALS: Record<string, (target: Target, serverMessage: string) => string> = {
  // invalid_catalog_name
  '3D000': ({ host, port, database }) => `database "${database}" does not exist on ${host}:${port}; ` +
    `create it (createdb -h ${host} -p ${port} -U postgres ${database}) or point DATABASE_URL at an existing database`,
  // invalid_authorization_specification: no such role, a role without LOGIN, or no pg_hba.conf line for it
  '28000': ({ host, port, database, role }, serverMessage) => {
    if (/does not exist/.test(serverMessage)) {
      return `role "${role}" does not exist on ${host}:${port}; create it (createuser -h ${host} -p ${port} -U postgres --login ${role}) ` +
        'or point DATABASE_URL at an existing role'
    }
    if (/not permitted to log in/.test(serverMessage)) {
      return `role "${role}" cannot log in on ${host}:${port}; grant it LOGIN (ALTER ROLE "${role}" LOGIN) or point DATABASE_URL at a role that can`
    }
    return `role "${role}" may not connect to database "${database}" on ${host}:${port} (${serverMessage}); ` +
      'allow it in pg_hba.conf or point DATABASE_URL at a role that may'
  },
  // invalid_password
  '28P01': ({ host, port, role }) => `password authentication failed for role "${role}" on ${host}:${port}; ` +
    'correct the password in DATABASE_URL (not shown here) or the role\'s password on the server'
}

/** What to tell the operator when the server refused DATABASE_URL (by SQLSTATE); null for any other failure. */
export function refusalOf (error: unknown, databaseUrl: string): string | null {
  const code = (error as { code?: unknown } | null)?.code
  const refused = typeof code === 'string' ? REFUSALS[code] : undefined
  if (refused === undefined) return null
  const serverMessage = error instanceof Error ? error.message : ''
  return refused(targetOf(databaseUrl, serverMessage), serverMessage)
}
