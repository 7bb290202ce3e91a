import { afterEach, describe, expect, it } from 'vitest';
import { CliError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { LoopbackReceiver } from './loopback-receiver.js';
import { pkceS256 as s256 } from '@attache/proto';
import { newPkce, newState } from './pkce.js';

/** The loopback redirect of a browser sign-in, over real HTTP on 127.0.0.1. */
describe('LoopbackReceiver', () => {
  let receiver: LoopbackReceiver | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  const visit = async (url: string) => {
    const res = await fetch(url);
    return { status: res.status, text: await res.text() };
  };

  it('listens on 127.0.0.1 on a port of its own and hands the code of a callback with our state to finish', async () => {
    receiver = await LoopbackReceiver.listen();
    expect(receiver.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const state = newState();
    const got = receiver.wait(state, 10_000, async ({ code }) => `exchanged ${code}`);
    // Anything but the callback is not for it, and does not end the wait.
    expect((await visit(new URL('/favicon.ico', receiver.redirectUri).href)).status).toBe(404);
    const page = await visit(`${receiver.redirectUri}?code=atc_one&state=${state}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Signed in');
    await expect(got).resolves.toBe('exchanged atc_one');
  });

  it('a callback with another state ends the sign-in with STATE_MISMATCH, and its code is never used', async () => {
    receiver = await LoopbackReceiver.listen();
    let finished = false;
    const got = receiver.wait(newState(), 10_000, async () => {
      finished = true;
    });
    const outcome = got.catch((e: unknown) => e);
    const page = await visit(`${receiver.redirectUri}?code=atc_forged&state=${newState()}`);
    expect(page.status).toBe(400);
    const err = await outcome;
    expect(err).toBeInstanceOf(CliError);
    expect(err).toMatchObject({ code: 'STATE_MISMATCH', exitCode: ExitCode.AUTH });
    expect(finished).toBe(false);
  });

  it("a refusal the control plane sent back ends the sign-in with its code and sentence; a failed finish is shown to the browser", async () => {
    receiver = await LoopbackReceiver.listen();
    const state = newState();
    const refused = receiver.wait(state, 10_000, async () => 'never').catch((e: unknown) => e);
    const page = await visit(`${receiver.redirectUri}?error=OIDC_EMAIL_NOT_ALLOWED&error_description=${encodeURIComponent('The email <x> is not allowed.')}&state=${state}`);
    expect(page.status).toBe(403);
    expect(page.text).toContain('The email &#60;x&#62; is not allowed.');
    expect(await refused).toMatchObject({ code: 'OIDC_EMAIL_NOT_ALLOWED', message: 'The email <x> is not allowed.', exitCode: ExitCode.AUTH });
    await receiver.close();

    receiver = await LoopbackReceiver.listen();
    const failing = receiver.wait(state, 10_000, async () => {
      throw new CliError('OIDC_CODE_INVALID', 'This sign-in code is unknown.', ExitCode.FAILURE);
    });
    const failed = failing.catch((e: unknown) => e);
    const shown = await visit(`${receiver.redirectUri}?code=atc_x&state=${state}`);
    expect(shown.status).toBe(403);
    expect(shown.text).toContain('This sign-in code is unknown.');
    expect(await failed).toMatchObject({ code: 'OIDC_CODE_INVALID' });
  });

  it('gives up after its wait with SIGN_IN_TIMEOUT', async () => {
    receiver = await LoopbackReceiver.listen();
    await expect(receiver.wait(newState(), 50, async () => 'never')).rejects.toMatchObject({ code: 'SIGN_IN_TIMEOUT', exitCode: ExitCode.AUTH });
  });
});

describe('PKCE', () => {
  it('makes a 43-character verifier and its S256 challenge, fresh each time', () => {
    const a = newPkce();
    const b = newPkce();
    expect(a.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.challenge).toBe(s256(a.verifier));
    expect(a.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.verifier).not.toBe(b.verifier);
    expect(newState()).not.toBe(newState());
  });
});
