// SPDX-License-Identifier: Apache-2.0
// The dashboard in Debian's headless Chromium, driven by playwright-core.
//
//   node dashboard_test.js EDGEMQ_BINARY CHROMIUM SCREENSHOT.png
//
// Starts the edgemq binary on free ports with a fresh users file (so the first-start admin
// with its random password is created, and read back from the 0600 file) and a serial device
// on a socat pty pair, connects a mosquitto_sub, publishes with mosquitto_pub and plays the
// device, then logs in on the page and waits until the clients table shows the subscriber, the
// received-message count rises and the device row shows it online with its last values
// changing. Saves a screenshot.
'use strict';

const { chromium } = require('playwright-core');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [binary, chromium_path, screenshot] = process.argv.slice(2);
if (!binary || !chromium_path || !screenshot) {
  console.error('usage: node dashboard_test.js EDGEMQ_BINARY CHROMIUM SCREENSHOT.png');
  process.exit(2);
}

const children = [];
function start(argv) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

/// Resolves with the regex match once the child's stderr shows it.
function wait_for(child, regex, timeout_ms) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('timed out waiting for ' + regex + ' in:\n' + text)),
                             timeout_ms);
    child.stderr.on('data', (chunk) => {
      text += chunk;
      const m = text.match(regex);
      if (m) { clearTimeout(timer); resolve(m); }
    });
    child.on('exit', (code) => reject(new Error('exited with ' + code + ':\n' + text)));
  });
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgemq-dashboard-'));
  try {
    // The device: socat joins two ptys, "dev" for the gateway and "sim" for this script.
    const dev = path.join(dir, 'dev');
    const sim = path.join(dir, 'sim');
    start(['socat', `pty,raw,echo=0,link=${dev}`, `pty,raw,echo=0,link=${sim}`]);
    for (let i = 0; i < 200 && !(fs.existsSync(dev) && fs.existsSync(sim)); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const config = path.join(dir, 'edgemq.toml');
    fs.writeFileSync(config, [
      '[broker]', 'sys_interval = 0',
      '[[listeners]]', 'type = "tcp"', 'bind = "127.0.0.1:0"',
      '[admin]', 'bind = "127.0.0.1:0"', `users_file = "${path.join(dir, 'admins')}"`,
      '[[devices]]', 'id = "greenhouse"', `match = { path = "${dev}" }`, 'stats_interval = 0',
      'parser = { kind = "kv" }', ''
    ].join('\n'));
    const gateway = start([binary, '--config', config]);
    const admin = wait_for(gateway, /ready: admin http on 127\.0\.0\.1:(\d+)/, 20000);
    const mqtt = wait_for(gateway, /ready: mqtt tcp on 127\.0\.0\.1:(\d+)/, 20000);
    const admin_port = (await admin)[1];
    const mqtt_port = (await mqtt)[1];

    // The first start made "admin" with a random password, in a file only its owner reads.
    const initial = path.join(dir, 'admins.initial');
    const mode = fs.statSync(initial).mode & 0o777;
    if (mode !== 0o600) throw new Error('admins.initial has mode ' + mode.toString(8));
    const [user, password] = fs.readFileSync(initial, 'utf8').trim().split(':');

    start(['mosquitto_sub', '-h', '127.0.0.1', '-p', mqtt_port, '-i', 'dashboard-sub',
           '-t', 'site/#']);
    const publisher = start(['mosquitto_pub', '-h', '127.0.0.1', '-p', mqtt_port,
                             '-i', 'dashboard-pub', '-t', 'site/gw1/temp', '-l']);
    let n = 0;
    const publishing = setInterval(() => publisher.stdin.write(`${20 + (n++ % 7)}.5\n`), 100);
    const device = fs.openSync(sim, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
    let reading = 0;
    const sensing = setInterval(
      () => fs.writeSync(device, `temp=${(21 + (reading++ % 10) / 10).toFixed(1)},hum=${40 + reading % 5}\n`),
      500);

    const browser = await chromium.launch({
      executablePath: chromium_path,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1060, height: 860 } });
      const external = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(`http://127.0.0.1:${admin_port}/`)) external.push(r.url());
      });
      await page.goto(`http://127.0.0.1:${admin_port}/`);
      await page.waitForSelector('#login:not([hidden])');
      await page.fill('#username', user);
      await page.fill('#password', password);
      await page.click('#login button[type=submit]');
      await page.waitForSelector('#dashboard:not([hidden])', { timeout: 10000 });
      await page.waitForFunction(
        () => [...document.querySelectorAll('#clients td')].some((td) => td.textContent === 'dashboard-sub'),
        null, { timeout: 15000 });
      const count = async () => Number(await page.textContent('#messages-received'));
      const first = await count();
      await page.waitForFunction(
        (before) => Number(document.getElementById('messages-received').textContent) > before + 10,
        first, { timeout: 15000 });
      const second = await count();
      // The device: online, and its last values change as the sensor keeps printing.
      const row = '#devices tr[data-device="greenhouse"]';
      await page.waitForFunction(
        (sel) => { const r = document.querySelector(sel);
                   return r && r.cells[1].textContent === 'online' && r.cells[3].textContent.includes('temp='); },
        row, { timeout: 15000 });
      const values = await page.textContent(`${row} td:nth-child(4)`);
      await page.waitForFunction(
        ([sel, before]) => { const r = document.querySelector(sel);
                             return r && r.cells[3].textContent !== before; },
        [row, values], { timeout: 15000 });
      // Let a few more events draw the rate chart before the picture.
      await page.waitForTimeout(7000);
      fs.mkdirSync(path.dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot, fullPage: true });
      if (external.length) throw new Error('the page fetched outside the gateway: ' + external);
      console.log(`ok: logged in as ${user}, client dashboard-sub listed, messages received ` +
                  `${first} -> ${second}, device greenhouse online (${values} -> ...); ` +
                  `screenshot ${screenshot}`);
    } finally {
      clearInterval(publishing);
      clearInterval(sensing);
      fs.closeSync(device);
      await browser.close();
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => {
  console.error('FAILED: ' + (e && e.stack || e));
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});
