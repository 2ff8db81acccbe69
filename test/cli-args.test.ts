import { strict as assert } from 'node:assert'
import { fork, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, constants, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import {
  DEMO_OPTIONS, DEMO_USAGE, HEALTH_OPTIONS, HEALTH_USAGE, parseBind, parseCommand, SERVE_OPTIONS, SERVE_USAGE, StartError, UsageError,
  type ServeOptions,
} from '../src/cli/args.js'
import { MAIN_PATH } from '../src/cli/member-process.js'
import { serve } from '../src/cli/serve.js'

const SERVE = ['serve', '--island', 'kv', '--bind', '127.0.0.1:0']

test('serve: bootstrap with defaults', () => {
  const command = parseCommand([...SERVE, '--bootstrap'])
  assert.deepEqual(command, {
    command: 'serve',
    options: {
      island: 'kv', host: '127.0.0.1', port: 0, bootstrap: true, join: null, id: null, location: null,
      pingMs: null, timeoutMs: null, minorityPaceMs: null, parliamentSize: null, secretFile: null, dataDir: null, snapshotEvery: null,
      logLevel: 'info',
    },
  })
})

test('serve: join with every option', () => {
  const command = parseCommand([
    ...SERVE, '--join', 'http://127.0.0.1:9000', '--id', 'b', '--location', 'http://10.0.0.2:9001',
    '--ping-ms', '100', '--timeout-ms', '500', '--minority-pace-ms', '0', '--parliament-size', '3', '--secret-file', '/tmp/s',
    '--log-level', 'trace',
  ])
  assert.equal(command.command, 'serve')
  if (command.command !== 'serve') return
  assert.deepEqual(command.options.join, ['http://127.0.0.1:9000'])
  assert.equal(command.options.bootstrap, false)
  assert.equal(command.options.pingMs, 100)
  assert.equal(command.options.timeoutMs, 500)
  assert.equal(command.options.minorityPaceMs, 0)
  assert.equal(command.options.parliamentSize, 3)
  assert.equal(command.options.logLevel, 'trace')
})

test('serve: --join takes several members, separated by commas, in the order given', () => {
  const command = parseCommand([...SERVE, '--join', 'http://127.0.0.1:9000,http://127.0.0.1:9001/base,https://10.0.0.3:9002'])
  assert.equal(command.command, 'serve')
  if (command.command !== 'serve') return
  assert.deepEqual(command.options.join, ['http://127.0.0.1:9000', 'http://127.0.0.1:9001/base', 'https://10.0.0.3:9002'])
})

test('serve: --data-dir and --snapshot-every', () => {
  const command = parseCommand([...SERVE, '--bootstrap', '--data-dir', '/var/lib/kv', '--snapshot-every', '1000'])
  assert.equal(command.command, 'serve')
  if (command.command !== 'serve') return
  assert.equal(command.options.dataDir, '/var/lib/kv')
  assert.equal(command.options.snapshotEvery, 1000)
  assert.throws(() => parseCommand([...SERVE, '--bootstrap', '--snapshot-every', '10']), UsageError)
  assert.throws(() => parseCommand([...SERVE, '--bootstrap', '--data-dir', '']), UsageError)
  assert.throws(() => parseCommand([...SERVE, '--bootstrap', '--data-dir', 'd', '--snapshot-every', '0']), UsageError)
})

test('serve: a timing given alone is checked against the colleague\'s default for the other', () => {
  const timingsOf = (argv: readonly string[]) => {
    const command = parseCommand([...SERVE, '--bootstrap', ...argv])
    return command.command === 'serve' ? [command.options.pingMs, command.options.timeoutMs] : null
  }
  assert.deepEqual(timingsOf(['--timeout-ms', '251']), [null, 251])
  assert.throws(() => timingsOf(['--timeout-ms', '250']), UsageError)
  assert.deepEqual(timingsOf(['--ping-ms', '999']), [999, null])
  assert.throws(() => timingsOf(['--ping-ms', '1000']), UsageError)
})

test('bind: host and port forms', () => {
  assert.deepEqual(parseBind('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 })
  assert.deepEqual(parseBind('localhost:0'), { host: 'localhost', port: 0 })
  assert.deepEqual(parseBind('[::1]:7000'), { host: '::1', port: 7000 })
  for (const bad of ['127.0.0.1', ':80', '127.0.0.1:70000', 'a b:1', '127.0.0.1:-1']) {
    assert.throws(() => parseBind(bad), UsageError, bad)
  }
})

test('demo and health and help', () => {
  assert.deepEqual(parseCommand(['demo']), {
    command: 'demo',
    options: { members: 3, keys: 30, deadlineMs: 60_000, logLevel: 'warn', status: false },
  })
  const status = parseCommand(['demo', '--status'])
  assert.equal(status.command === 'demo' && status.options.status, true)
  const five = parseCommand(['demo', '--members', '5'])
  assert.equal(five.command === 'demo' && five.options.members, 5)
  assert.deepEqual(parseCommand(['health', 'http://127.0.0.1:1']), {
    command: 'health', url: 'http://127.0.0.1:1', timeoutMs: 5_000,
  })
  assert.deepEqual(parseCommand(['--help']), { command: 'help', topic: null })
  assert.deepEqual(parseCommand(['-h']), { command: 'help', topic: null })
  assert.deepEqual(parseCommand(['--version']), { command: 'version' })
  for (const topic of ['serve', 'demo', 'health'] as const) {
    assert.deepEqual(parseCommand([topic, '--help']), { command: 'help', topic })
    // Help wins over whatever else is on the line, even arguments that would be refused.
    assert.deepEqual(parseCommand([topic, '--ping-ms', 'x', '-h']), { command: 'help', topic })
  }
})

const BAD_ARGUMENTS: ReadonlyArray<readonly [string, readonly string[], RegExp]> = [
  ['no command', [], /missing command/],
  ['unknown command', ['launch'], /unknown command "launch"/],
  ['unknown option', [...SERVE, '--bootstrap', '--fast'], /--fast/],
  ['neither bootstrap nor join', SERVE, /exactly one of --bootstrap and --join/],
  ['both bootstrap and join', [...SERVE, '--bootstrap', '--join', 'http://127.0.0.1:1'], /exactly one/],
  ['missing island', ['serve', '--bind', '127.0.0.1:0', '--bootstrap'], /missing --island/],
  ['missing bind', ['serve', '--island', 'kv', '--bootstrap'], /missing --bind/],
  ['bad bind', ['serve', '--island', 'kv', '--bind', 'nowhere', '--bootstrap'], /--bind must be HOST:PORT/],
  ['bad join URL', [...SERVE, '--join', 'not a url'], /--join must be an http URL/],
  ['ftp join URL', [...SERVE, '--join', 'ftp://x'], /--join must be an http URL/],
  ['bad second join URL', [...SERVE, '--join', 'http://127.0.0.1:1,nowhere'], /--join must be an http URL, got "nowhere"/],
  ['empty join URL in a list', [...SERVE, '--join', 'http://127.0.0.1:1,'], /--join must be an http URL, got ""/],
  ['65 join URLs', [...SERVE, '--join', Array.from({ length: 65 }, (_, index) => `http://127.0.0.1:${index + 1}`).join(',')], /--join takes at most 64 URLs/],
  // URLs to `new URL`, but not locations to the colleague.
  ['upper-case location scheme', [...SERVE, '--bootstrap', '--location', 'HTTP://127.0.0.1:9'], /^--location must begin with http:\/\/ or https:\/\//],
  ['location without slashes', [...SERVE, '--bootstrap', '--location', 'http:127.0.0.1:9'], /^--location must begin with http:\/\/ or https:\/\//],
  ['location longer than peers take', [...SERVE, '--bootstrap', '--location', `http://x/${'p'.repeat(2048)}`], /^--location must .* at most 2048 characters/],
  ['location after a space', [...SERVE, '--bootstrap', '--location', ' http://x'], /^--location must begin with http:\/\/ or https:\/\/.*, got " http:\/\/x"$/],
  ['bad number', [...SERVE, '--bootstrap', '--ping-ms', '10ms'], /--ping-ms must be an integer/],
  ['negative number', [...SERVE, '--bootstrap', '--ping-ms', '-5'], /^--ping-ms must be an integer from 1 to 60000, got "-5"$/],
  ['zero', [...SERVE, '--bootstrap', '--timeout-ms', '0'], /^--timeout-ms must be an integer from 1 to 600000, got "0"$/],
  ['timeout not above ping', [...SERVE, '--bootstrap', '--ping-ms', '500', '--timeout-ms', '500'], /greater than --ping-ms/],
  ['timeout below the default ping', [...SERVE, '--bootstrap', '--timeout-ms', '100'], /^--timeout-ms \(100\) must be greater than --ping-ms \(default 250\)$/],
  ['ping not below the default timeout', [...SERVE, '--bootstrap', '--ping-ms', '5000'], /^--timeout-ms \(default 1000\) must be greater than --ping-ms \(5000\)$/],
  ['pace above ping', [...SERVE, '--bootstrap', '--ping-ms', '20', '--minority-pace-ms', '21'], /^--minority-pace-ms must be at most --ping-ms \(20\)$/],
  ['pace above the default ping', [...SERVE, '--bootstrap', '--minority-pace-ms', '251'], /at most --ping-ms \(250\)/],
  ['negative pace', [...SERVE, '--bootstrap', '--minority-pace-ms', '-1'], /^--minority-pace-ms must be an integer from 0 to 60000/],
  ['reserved id', [...SERVE, '--bootstrap', '--id', '__proto__'], /^--id cannot be __proto__/],
  ['reserved id constructor', [...SERVE, '--bootstrap', '--id', 'constructor'], /^--id cannot be constructor/],
  ['even parliament', [...SERVE, '--bootstrap', '--parliament-size', '4'], /must be odd/],
  ['bad log level', [...SERVE, '--bootstrap', '--log-level', 'loud'], /--log-level must be one of/],
  ['bad island name', ['serve', '--island', 'a b', '--bind', '127.0.0.1:0', '--bootstrap'], /--island/],
  ['option without value', [...SERVE, '--join'], /--join/],
  ['stray positional', [...SERVE, '--bootstrap', 'extra'], /unexpected argument "extra"/],
  ['option given twice', [...SERVE, '--bootstrap', '--ping-ms', '100', '--ping-ms', '200'], /^--ping-ms is given more than once$/],
  ['option given twice, once with =', [...SERVE, '--bootstrap', '--ping-ms=100', '--ping-ms', '100'], /^--ping-ms is given more than once$/],
  ['flag given twice', [...SERVE, '--bootstrap', '--bootstrap'], /^--bootstrap is given more than once$/],
  ['argument after --version', ['--version', 'extra'], /^unexpected argument "extra" after --version$/],
  ['argument after -V', ['-V', '-V'], /^unexpected argument "-V" after -V$/],
  ['argument after --help', ['--help', 'serve'], /^unexpected argument "serve" after --help$/],
  ['argument after help', ['help', 'me'], /^unexpected argument "me" after help$/],
  ['too few demo members', ['demo', '--members', '2'], /--members must be an integer from 3 to 7, got "2"/],
  ['health without URL', ['health'], /needs the URL/],
  ['health with bad URL', ['health', 'localhost'], /URL must be an http URL/],
]

for (const [name, argv, message] of BAD_ARGUMENTS) {
  test(`bad arguments: ${name}`, () => {
    assert.throws(() => parseCommand(argv), (error: unknown) => error instanceof UsageError && message.test(error.message))
  })
}

test('every option of every command given twice is refused, naming it', () => {
  for (const [command, options] of [
    [[...SERVE], SERVE_OPTIONS],
    [['demo'], DEMO_OPTIONS],
    [['health', 'http://127.0.0.1:1'], HEALTH_OPTIONS],
  ] as const) {
    for (const [name, { type }] of Object.entries(options)) {
      // Refused before any value is checked: the same value twice is refused too.
      const once = type === 'boolean' ? [`--${name}`] : [`--${name}`, '1']
      assert.throws(
        () => parseCommand([...command, ...once, ...once]),
        (error: unknown) => error instanceof UsageError && error.message === `--${name} is given more than once`,
        `${command[0]} --${name}`,
      )
    }
  }
})

test('the binary exits 2 with one error line and the usage on stderr', () => {
  const refusedByTheColleague = [
    [...SERVE, '--bootstrap', '--location', 'HTTP://127.0.0.1:9'],
    [...SERVE, '--bootstrap', '--timeout-ms', '100'],
    [...SERVE, '--bootstrap', '--ping-ms', '5000'],
  ]
  const repeatedOrExtra = [[...SERVE, '--bootstrap', '--ping-ms', '100', '--ping-ms', '200'], ['--version', 'extra'], ['--help', 'extra']]
  for (const argv of [[], ['launch'], [...SERVE], ['demo', '--members', 'many'], ['health'], ...refusedByTheColleague, ...repeatedOrExtra]) {
    const result = spawnSync(process.execPath, [MAIN_PATH, ...argv], { encoding: 'utf8', timeout: 10_000 })
    assert.equal(result.status, 2, `${argv.join(' ')}: ${result.stderr}`)
    assert.equal(result.stdout, '')
    const [first, second] = result.stderr.split('\n')
    assert.match(first ?? '', /^paxos-colleague: \S/)
    assert.equal(second, 'usage:')
  }
})

test('a missing --secret-file: one line, exit 1', () => {
  const result = spawnSync(process.execPath, [MAIN_PATH, ...SERVE, '--bootstrap', '--secret-file', '/nonexistent/secret'], {
    encoding: 'utf8',
    timeout: 10_000,
  })
  assert.equal(result.status, 1, result.stderr)
  assert.equal(result.stderr, 'paxos-colleague: cannot read --secret-file "/nonexistent/secret": no such file (ENOENT)\n')
})

test('a --secret-file without end (/dev/zero) is refused as too long at once: one line, exit 1', { skip: !existsSync('/dev/zero') }, () => {
  const result = spawnSync(process.execPath, [MAIN_PATH, ...SERVE, '--bootstrap', '--secret-file', '/dev/zero'], { encoding: 'utf8', timeout: 10_000 })
  assert.equal(result.status, 1, `${String(result.signal)}: ${result.stderr.slice(0, 500)}`)
  assert.equal(result.stderr, 'paxos-colleague: --secret-file "/dev/zero" must hold 1 to 4096 characters\n')
})

test('a stop signal while serve waits on a --secret-file FIFO ends it at once: one line, exit 1', { timeout: 60_000 }, async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'paxos-cli-args-'))
  const fifo = join(directory, 'secret')
  try {
    if (spawnSync('mkfifo', [fifo], { timeout: 10_000 }).status !== 0) return t.skip('no mkfifo here')
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const child = spawn(process.execPath, [MAIN_PATH, ...SERVE, '--bootstrap', '--secret-file', fifo], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stderr = ''
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
      let writer: number | null = null
      try {
        // A writer can open the FIFO without blocking once serve has it open for reading: then serve is
        // past its signal handlers and waiting on the secret, which this writer never sends.
        for (const deadline = Date.now() + 20_000; writer === null; await new Promise((resolve) => setTimeout(resolve, 20))) {
          try {
            writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENXIO') throw error
            assert.ok(Date.now() < deadline && child.exitCode === null, `serve did not open the FIFO: ${stderr}`)
          }
        }
        child.kill(signal)
        let timer: NodeJS.Timeout | undefined
        const exit = await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 10_000, 'still running 10 s later')))])
        clearTimeout(timer)
        assert.deepEqual(exit, { code: 1, signal: null }, `after ${signal}: ${stderr}`)
        assert.equal(stderr, `paxos-colleague: stopped before it started (${signal})\n`)
      } finally {
        if (writer !== null) closeSync(writer)
        child.kill('SIGKILL')
        await exited
      }
    }
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
})

test('--secret-file <(echo secret), a pipe written after serve starts, is read whole', { timeout: 60_000 }, async (t) => {
  if (spawnSync('bash', ['-c', 'true'], { timeout: 10_000 }).status !== 0) return t.skip('no bash here')
  const script = `exec "$@" --secret-file <(sleep 0.3; echo 'a shared secret')`
  const child = spawn('bash', ['-c', script, 'bash', process.execPath, MAIN_PATH, ...SERVE, '--bootstrap', '--log-level', 'silent'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  try {
    for (const deadline = Date.now() + 20_000; !stdout.includes('listening '); await new Promise((resolve) => setTimeout(resolve, 20))) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `not listening: ${stderr}`)
    }
    child.kill('SIGTERM')
    assert.equal(await exited, 0, stderr)
  } finally {
    child.kill('SIGKILL')
    await exited
  }
})

test('only a storage failure is reported as a --data-dir problem', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'paxos-cli-args-'))
  try {
    // Options the parser refuses, passed straight to serve: the colleague refuses them before it touches storage.
    const options: ServeOptions = {
      island: 'kv', host: '127.0.0.1', port: 0, bootstrap: true, join: null, id: null, location: null,
      pingMs: null, timeoutMs: 100, minorityPaceMs: null, parliamentSize: null, secretFile: null,
      dataDir: join(directory, 'data'), snapshotEvery: null, logLevel: 'silent',
    }
    for (const dataDir of [null, options.dataDir]) {
      await assert.rejects(serve({ ...options, dataDir }, { stdout: new PassThrough(), stopped: new Promise(() => {}) }), (error: unknown) => {
        assert.ok(error instanceof StartError)
        assert.match(error.message, /^could not start: timeoutMs must be greater than pingMs \(250\), got 100 \(INVALID_OPTIONS\)$/, 'said once')
        return true
      })
    }
    assert.equal(existsSync(join(directory, 'data')), false)
    // A storage directory the colleague cannot use is one.
    const file = join(directory, 'file')
    writeFileSync(file, '')
    const result = spawnSync(process.execPath, [MAIN_PATH, ...SERVE, '--bootstrap', '--log-level', 'silent', '--data-dir', file], {
      encoding: 'utf8',
      timeout: 10_000,
    })
    assert.equal(result.status, 1, result.stderr)
    assert.match(result.stderr, new RegExp(`^paxos-colleague: could not start on --data-dir ${file}: .*\\(STORAGE_FAILED\\)`))
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
})

test('COMMAND --help prints that command\'s usage on stdout and exits 0', () => {
  for (const [command, first] of [
    ['serve', /^usage: paxos-colleague serve --island NAME/],
    ['demo', /^usage: paxos-colleague demo \[--members N\]/],
    ['health', /^usage: paxos-colleague health URL/],
  ] as const) {
    for (const flag of ['--help', '-h']) {
      const result = spawnSync(process.execPath, [MAIN_PATH, command, flag], { encoding: 'utf8', timeout: 10_000 })
      assert.equal(result.status, 0, `${command} ${flag}: ${result.stderr}`)
      assert.match(result.stdout, first)
      assert.equal(result.stderr, '')
    }
  }
})

test("each command's --help names every option its parser takes, in the synopsis and with a line of its own", () => {
  for (const [usage, options] of [
    [SERVE_USAGE, SERVE_OPTIONS],
    [DEMO_USAGE, DEMO_OPTIONS],
    [HEALTH_USAGE, HEALTH_OPTIONS],
  ] as const) {
    const [synopsis = '', ...rest] = usage.split('\n\n')
    const described = rest.join('\n\n')
    for (const name of Object.keys(options)) {
      const flag = new RegExp(`--${name}(?![a-z-])`)
      assert.match(synopsis, flag, `the synopsis of ${usage.split('\n')[0]} lacks --${name}`)
      assert.match(described, new RegExp(`^ {2}(-[a-z], )?--${name}(?![a-z-])`, 'm'), `no line describes --${name}`)
    }
  }
})

test('--version prints the package version and exits 0', async () => {
  const { readFile } = await import('node:fs/promises')
  const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  for (const flag of ['--version', '-V']) {
    const result = spawnSync(process.execPath, [MAIN_PATH, flag], { encoding: 'utf8', timeout: 10_000 })
    assert.equal(result.status, 0, result.stderr)
    assert.equal(result.stdout, `${version}\n`)
  }
})

test('--ping-ms -5 says what is wrong with the value', () => {
  const result = spawnSync(process.execPath, [MAIN_PATH, ...SERVE, '--bootstrap', '--ping-ms', '-5'], { encoding: 'utf8', timeout: 10_000 })
  assert.equal(result.status, 2)
  assert.equal(result.stderr.split('\n')[0], 'paxos-colleague: --ping-ms must be an integer from 1 to 60000, got "-5"')
})

test('--help prints the usage on stdout and exits 0', () => {
  const result = spawnSync(process.execPath, [MAIN_PATH, '--help'], { encoding: 'utf8', timeout: 10_000 })
  assert.equal(result.status, 0)
  assert.match(result.stdout, /^usage:\n {2}paxos-colleague serve --island NAME --bind HOST:PORT/)
  assert.equal(result.stderr, '')
})

test('serve whose IPC parent goes while it loads stops as on a stop signal: exit 0, no stack trace', { timeout: 60_000 }, async () => {
  const child = fork(MAIN_PATH, ['serve', '--island', 'orphan', '--bind', '127.0.0.1:0', '--bootstrap', '--log-level', 'silent'], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  // At once: long before the command has loaded and listens for the parent going.
  child.once('spawn', () => child.disconnect())
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null]
  clearTimeout(timer)
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr)
  assert.doesNotMatch(stderr, /TypeError|\n\s+at /)
})
