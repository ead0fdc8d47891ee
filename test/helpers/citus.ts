// A new database on a Citus cluster: Citus 12.1 does not propagate CREATE DATABASE, so it is created on the
// coordinator and on every worker, each with the extension, and the coordinator's copy is given the workers.
import pg from 'pg'

interface Node { host: string, port: number }

async function onDatabase<T> (url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

function urlOf (adminUrl: string, node: Node | null, database: string): string {
  const url = new URL(adminUrl)
  if (node !== null) {
    url.hostname = node.host
    url.port = String(node.port)
  }
  url.pathname = `/${database}`
  return url.toString()
}

/** The workers of the Citus cluster whose coordinator adminUrl names, or null when that database has no citus. */
export async function citusWorkers (adminUrl: string): Promise<Node[] | null> {
  return await onDatabase(adminUrl, async (client) => {
    const { rows: [extension] } = await client.query("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
    if (extension === undefined) return null
    const { rows } = await client.query<{ node_name: string, node_port: number }>('SELECT node_name, node_port FROM citus_get_active_worker_nodes() ORDER BY node_port')
    return rows.map((row) => ({ host: row.node_name, port: Number(row.node_port) }))
  })
}

/**
 * Creates `name` on the coordinator and the workers; returns a function that drops it from all of them. Under load
 * citus_add_node's metadata sync sometimes loses its connection to a worker ("failure on connection marked as
 * essential"): the whole database is then made again, up to three times.
 */
export async function createCitusDatabase (adminUrl: string, workers: readonly Node[], name: string, shardCount?: number): Promise<() => Promise<void>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await createCitusDatabaseOnce(adminUrl, workers, name, shardCount)
    } catch (error) {
      if (attempt >= 3) throw error
    }
  }
}

async function createCitusDatabaseOnce (adminUrl: string, workers: readonly Node[], name: string, shardCount?: number): Promise<() => Promise<void>> {
  const coordinator = new URL(adminUrl)
  const nodes: Array<Node | null> = [null, ...workers]
  const drop = async (): Promise<void> => {
    for (const node of nodes) {
      await onDatabase(urlOf(adminUrl, node, 'postgres'), (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
    }
  }
  try {
    for (const node of nodes) {
      await onDatabase(urlOf(adminUrl, node, 'postgres'), (client) => client.query(`CREATE DATABASE ${name}`))
      await onDatabase(urlOf(adminUrl, node, name), (client) => client.query('CREATE EXTENSION citus'))
    }
    await onDatabase(urlOf(adminUrl, null, name), async (client) => {
      if (shardCount !== undefined) await client.query(`ALTER DATABASE ${name} SET citus.shard_count = ${shardCount}`)
      await client.query('SELECT citus_set_coordinator_host($1, $2)', [coordinator.hostname, Number(coordinator.port || 5432)])
      for (const worker of workers) await client.query('SELECT citus_add_node($1, $2)', [worker.host, worker.port])
    })
  } catch (error) {
    await drop().catch(() => {})
    throw error
  }
  return drop
}

/** The shard of `messages` that Citus routes this receiver to, and the node holding it (on a client of the database). */
export async function shardOfReceiver (client: pg.Client, receiverUid: string): Promise<{ shard: string, host: string, port: number }> {
  const { rows: [row] } = await client.query<{ shard: string, host: string, port: number }>(
    "SELECT shardid::text AS shard, nodename AS host, nodeport AS port FROM citus_shards WHERE table_name = 'messages'::regclass " +
    "AND shardid = get_shard_id_for_distribution_column('messages', $1::text)", [receiverUid])
  if (row === undefined) throw new Error(`no shard for ${receiverUid}`)
  return { ...row, port: Number(row.port) }
}
