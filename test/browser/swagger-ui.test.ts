// Swagger UI at /docs in a real browser (Debian's Chromium through playwright-core): authorise with a key,
// store a message with "Try it out", and see it come back in a fetch, also from the browser; and the examples
// it shows are ones a person can read, not values generated from the schemas' patterns.
import { existsSync } from 'node:fs'
import t from 'tap'
import { chromium, type Locator, type Page } from 'playwright-core'
import { startService, type ServiceProcess } from '../helpers/process.js'
import { AUTH, KEYS } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/database.js'

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic'
]
/** Every wait in the browser is bounded by this, so a broken page fails the test instead of hanging it. */
const WAIT_MS = 15_000
const SCREENSHOT = '/tmp/swagger-ui-test.png'

const ADMIN_SECRET = KEYS.admin.split(':')[1] ?? ''

/** The operation block of Swagger UI for one method and exact path (`data-path` holds the path as written in the document). */
function operation (page: Page, method: 'get' | 'post', path: string): Locator {
  return page.locator(`.opblock.opblock-${method}`)
    .filter({ has: page.locator(`.opblock-summary-path[data-path="${path}"]`) })
}

/** Expands an operation, clicks "Try it out" and waits until the block is editable. */
async function tryItOut (block: Locator): Promise<void> {
  await block.locator('.opblock-summary-control').first().click()
  await block.locator('.opblock-body').waitFor({ state: 'visible' })
  await block.locator('.try-out__btn').click()
  await block.locator('button.execute').waitFor({ state: 'visible' })
}

/** The live response of an executed operation: its status code cell and its body as displayed. */
async function liveResponse (block: Locator): Promise<{ status: string, body: string, curl: string }> {
  const row = block.locator('.responses-wrapper .live-responses-table tr.response')
  await row.waitFor({ state: 'visible' })
  const status = (await row.locator('td.response-col_status').innerText()).trim()
  const body = await row.locator('.response-col_description .highlight-code, .response-col_description pre').first().innerText()
  const curl = await block.locator('.curl-command, .curl').first().innerText().catch(() => '')
  return { status, body, curl }
}

interface Tap { fail (message: string): void, teardown (fn: () => unknown): void }

/** A fresh service and a Chromium page on it; undefined (and a failure) when Chromium is missing. */
async function openBrowser (t: Tap): Promise<{ service: ServiceProcess, page: Page, pageErrors: string[] } | undefined> {
  if (!existsSync(CHROMIUM)) {
    t.fail(`${CHROMIUM} is missing: this test needs Debian's chromium package (apt-get install chromium; CI installs it). ` +
      'playwright-core cannot download a browser here, so the test fails instead of skipping.')
    return undefined
  }
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  const browser = await chromium.launch({ headless: true, executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 })
  t.teardown(async () => { await browser.close() })
  const context = await browser.newContext({ viewport: { width: 1280, height: 1600 } })
  const page = await context.newPage()
  page.setDefaultTimeout(WAIT_MS)
  page.setDefaultNavigationTimeout(WAIT_MS)
  const pageErrors: string[] = []
  page.on('pageerror', (error) => { pageErrors.push(error.message) })
  page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`) })
  return { service, page, pageErrors }
}

t.test('Swagger UI at /docs: authorise, store a message with "Try it out", and see it in the fetch', { timeout: 180_000 }, async (t) => {
  const opened = await openBrowser(t)
  if (opened === undefined) return
  const { service, page, pageErrors } = opened

  const msgId = `browser-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
  const content = 'hello from Swagger UI'

  try {
    // The page and the document it loads.
    const docs = await page.goto(`${service.url}/docs`, { waitUntil: 'domcontentloaded' })
    t.equal(docs?.status(), 200, '/docs answers 200')
    const title = page.locator('.swagger-ui .info .title')
    await title.waitFor({ state: 'visible' })
    t.match(await title.innerText(), /Offline message service/, 'Swagger UI rendered the served document')

    // Authorize with the admin key's secret (bearerAuth).
    await page.locator('.scheme-container button.authorize').click()
    const modal = page.locator('.dialog-ux .modal-ux')
    await modal.waitFor({ state: 'visible' })
    const bearerAuth = modal.locator('.auth-container').filter({ hasText: 'bearerAuth' })
    await bearerAuth.locator('input#auth-bearer-value, input[aria-label="auth-bearer-value"]').first().fill(ADMIN_SECRET)
    await bearerAuth.locator('button.authorize[type="submit"], button[aria-label="Apply credentials"]').first().click()
    await bearerAuth.getByRole('button', { name: /Logout|Remove authorization/ }).waitFor({ state: 'visible' })
    t.match(await bearerAuth.innerText(), /Authorized/, 'the bearerAuth scheme shows "Authorized"')
    t.match(await bearerAuth.innerText(), /API_KEYS empty.*skip this/s, 'the Authorize dialog says it can be skipped when API_KEYS is empty')
    await modal.locator('button.btn-done').click()
    await modal.waitFor({ state: 'hidden' })
    t.ok(await page.locator('.scheme-container button.authorize.locked').isVisible(), 'the Authorize button shows the lock closed')

    // POST /v1/messages with "Try it out".
    const store = operation(page, 'post', '/v1/messages')
    t.equal(await store.count(), 1, 'one POST /v1/messages block')
    await tryItOut(store)
    const body = JSON.stringify({
      receiver_uid: 'browser-bob',
      sender_uid: 'browser-alice',
      msg_id: msgId,
      msg_type: 1,
      content
    }, null, 2)
    const textarea = store.locator('textarea.body-param__text')
    await textarea.fill(body)
    t.equal(await textarea.inputValue(), body, 'the request body textarea holds the message')
    const [storeResponse] = await Promise.all([
      page.waitForResponse((response) => response.request().method() === 'POST' &&
        new URL(response.url()).pathname === '/v1/messages', { timeout: WAIT_MS }),
      store.locator('button.execute').click()
    ])
    t.equal(storeResponse.status(), 201, 'the browser request was answered 201')
    t.equal(await storeResponse.request().headerValue('authorization'), `Bearer ${ADMIN_SECRET}`, 'Swagger UI sent the key as a bearer token')
    t.match(await storeResponse.request().headerValue('content-type') ?? '', /^application\/json/, 'Swagger UI sent JSON')
    const stored = await liveResponse(store)
    t.equal(stored.status, '201', 'the live response shows code 201')
    t.match(stored.body, content, 'the live response body shows the content')
    t.match(stored.body, msgId, 'the live response body shows the msg_id')
    t.match(stored.body, /"duplicate":\s*false/, 'the live response says duplicate: false')

    // GET /v1/receivers/{receiver_uid}/messages with "Try it out".
    const fetchPage = operation(page, 'get', '/v1/receivers/{receiver_uid}/messages')
    t.equal(await fetchPage.count(), 1, 'one GET /v1/receivers/{receiver_uid}/messages block')
    await tryItOut(fetchPage)
    await fetchPage.locator('input[placeholder="receiver_uid"]').fill('browser-bob')
    const [fetchResponse] = await Promise.all([
      page.waitForResponse((response) => response.request().method() === 'GET' &&
        new URL(response.url()).pathname === '/v1/receivers/browser-bob/messages', { timeout: WAIT_MS }),
      fetchPage.locator('button.execute').click()
    ])
    t.equal(fetchResponse.status(), 200, 'the browser fetch was answered 200')
    const fetched = await liveResponse(fetchPage)
    t.equal(fetched.status, '200', 'the live response shows code 200')
    t.match(fetched.body, msgId, 'the fetched page shows the msg_id')
    t.match(fetched.body, content, 'the fetched page shows the content')
    t.match(fetched.body, 'browser-alice', 'the fetched page shows the sender')
    t.match(fetched.curl, `Bearer ${ADMIN_SECRET}`, 'the curl command shown carries the key')

    // Really stored: a direct fetch with the key, outside the browser.
    const direct = await fetch(`${service.url}/v1/receivers/browser-bob/messages`, { headers: AUTH.admin })
    t.equal(direct.status, 200)
    t.match(await direct.json(), {
      messages: [{ msg_id: msgId, receiver_uid: 'browser-bob', sender_uid: 'browser-alice', msg_type: 1, content }],
      has_more: false
    }, 'the message stored from Swagger UI is in the database')

    t.same(pageErrors, [], 'no errors in the page')
  } finally {
    await page.screenshot({ path: SCREENSHOT, fullPage: true, timeout: WAIT_MS }).catch((error: unknown) => {
      t.comment(`screenshot failed: ${String(error)}`)
    })
    if (pageErrors.length > 0) t.comment(`page errors:\n${pageErrors.join('\n')}`)
  }
})

/** Ids as a person writes them: bob, alice, alice-0001. Generated from the id pattern they look like "bZ.Zs9u::HR@aKq1@EqUS". */
const READABLE_ID = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/
const ID_FIELDS = new Set(['receiver_uid', 'sender_uid', 'msg_id', 'msg_ids'])
/** The msg_type values callers use (1 text, 2 image, 3 voice); Swagger UI makes 65535 (the maximum) up. */
const MSG_TYPES = new Set([1, 2, 3])

/** Every value of an example that Swagger UI would have made up from the schema rather than taken from it. */
function madeUpValues (value: unknown, field = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => madeUpValues(item, field))
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => madeUpValues(item, key))
  if (ID_FIELDS.has(field) && !(typeof value === 'string' && READABLE_ID.test(value))) return [`${field}: ${JSON.stringify(value)}`]
  if (/msg_type$/.test(field) && value !== null && !MSG_TYPES.has(value as number)) return [`${field}: ${JSON.stringify(value)}`]
  // "string" is what Swagger UI shows for a string schema without an example.
  if (value === 'string') return [`${field}: "string"`]
  return []
}

t.test('Swagger UI shows examples a person can read: no id generated from a pattern, no made-up msg_type', { timeout: 120_000 }, async (t) => {
  const opened = await openBrowser(t)
  if (opened === undefined) return
  const { service, page, pageErrors } = opened

  await page.goto(`${service.url}/docs`, { waitUntil: 'domcontentloaded' })
  await page.locator('.swagger-ui .info .title').waitFor({ state: 'visible' })
  const operations = page.locator('.opblock')
  const count = await operations.count()
  t.ok(count >= 10, `every operation is on the page (${count})`)

  const examples: string[] = []
  for (let index = 0; index < count; index++) {
    const block = operations.nth(index)
    const path = await block.locator('.opblock-summary-path').getAttribute('data-path')
    await block.locator('.opblock-summary-control').first().click()
    await block.locator('.opblock-body').waitFor({ state: 'visible' })
    // The request body's example and each response's "Example Value".
    const shown = await block.locator('.opblock-body pre.microlight').allInnerTexts()
    const json = shown.flatMap((text) => { try { return [JSON.parse(text) as unknown] } catch { return [] } })
    if (path?.startsWith('/v1/') === true) t.ok(json.length >= 4, `${path}: Swagger UI shows its JSON examples (${json.length})`)
    for (const example of json) {
      const madeUp = madeUpValues(example)
      t.same(madeUp, [], `${path}: an example with nothing made up`)
    }
    examples.push(...shown)
  }
  t.match(examples.join('\n'), /"msg_id": "alice-0001"/, 'the message examples are alice\'s message to bob')
  t.same(pageErrors, [], 'no errors in the page')
})
