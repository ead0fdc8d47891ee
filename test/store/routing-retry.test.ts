// A routed transaction whose opening fails in a way its routing names (on Citus: a shard of its range split away) runs
// again as the lane-less transaction, fn once; any other failure, and any failure once fn has begun, is the caller's.
// On plain PostgreSQL, with a stub routing whose opening raises an error.
import t from 'tap'
import { createPostgresStore, type Routing } from '../../src/store/postgres/store.js'
import { TEST_STORE, createTestDatabase } from '../helpers/database.js'

const GONE = 'could not find valid entry for shard 7'

if (TEST_STORE !== 'postgres') {
  t.pass('SQLite has no routing')
} else {
  t.test('an opening that fails as the routing says runs the transaction again without a lane; fn runs once', async (t) => {
    const databaseUrl = await createTestDatabase(t)
    const plans: Array<string | undefined> = []
    const failed: string[] = []
    const routing: Routing = {
      nodeOf: () => '',
      transaction (lane) {
        plans.push(lane)
        return {
          node: '',
          // A lane's opening raises the error; the lane-less transaction has none.
          opening: lane === undefined ? undefined : [{ sql: { name: '', text: `DO $$ BEGIN RAISE EXCEPTION '${lane === 'split' ? GONE : 'something else'}'; END $$` }, values: [] }],
          statements: () => undefined as never,
          openingFailed (error) {
            failed.push((error as Error).message)
            return (error as Error).message === GONE
          }
        }
      },
      batchesReads: true,
      close () {}
    }
    const store = await createPostgresStore({ databaseUrl, poolMax: 2, statementTimeoutMs: 10_000, connectTimeoutMs: 5000 }, { route: async () => routing })
    t.teardown(() => store.close())

    let runs = 0
    const value = await store.transaction(async () => { runs++; return 'done' }, 'split')
    t.equal(value, 'done')
    t.equal(runs, 1, 'fn ran once, in the second transaction')
    t.same(plans, ['split', undefined], 'the lane\'s plan, then the lane-less one')
    t.same(failed, [GONE])

    plans.length = 0
    await t.rejects(store.transaction(async () => { runs++ }, 'other'), /something else/, 'another failure of the opening is the caller\'s')
    t.same(plans, ['other'])
    t.equal(runs, 1)

    plans.length = 0
    failed.length = 0
    await t.rejects(store.transaction(async () => { runs++; throw new Error(GONE) }, undefined), new RegExp(GONE), 'a failure once fn has begun is the caller\'s')
    t.equal(runs, 2, 'fn ran once')
    t.same(failed, [], 'not even asked')
  })
}
