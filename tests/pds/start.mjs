// Starts the AT Protocol reference PDS (with a PLC directory, no AppView) for quotecast's
// Bluesky integration test, creates one account with an app password, prints one JSON line
// {"pds_url", "handle", "password", "did"} on stdout, and stays up until killed.
//
// usage: node start.mjs [--plc-port N] [--pds-port N]   (or PLC_PORT / PDS_PORT; default 2582/2583)
import net from 'node:net'
import devEnv from '@atproto/dev-env'

const { TestNetworkNoAppView } = devEnv

function portArg(flag, envName, fallback) {
  const i = process.argv.indexOf(flag)
  const raw = i >= 0 ? process.argv[i + 1] : process.env[envName]
  const port = Number(raw ?? fallback)
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`${flag}/${envName}: not a port: ${raw}`)
  }
  return port
}

// PLC and PDS call listen(port) without a host, i.e. on every interface; keep them on loopback.
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(1, 0, '127.0.0.1')
  }
  return listen.apply(this, args)
}

const plcPort = portArg('--plc-port', 'PLC_PORT', 2582)
const pdsPort = portArg('--pds-port', 'PDS_PORT', 2583)

const network = await TestNetworkNoAppView.create({
  plc: { port: plcPort },
  pds: { port: pdsPort },
})

const handle = 'quotecast.test'
const agent = network.pds.getClient()
await agent.createAccount({ email: 'quotecast@example.com', handle, password: 'account-pass' })
const { data: appPassword } = await agent.com.atproto.server.createAppPassword({ name: 'quotecast' })

process.stdout.write(
  JSON.stringify({
    pds_url: network.pds.url,
    handle,
    password: appPassword.password,
    did: agent.session?.did,
  }) + '\n',
)

const stop = async () => {
  await network.close().catch(() => {})
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
