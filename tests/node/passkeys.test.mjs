// Passkeys and security keys, as a server app using the official Node SDK meets them: the
// SDK tracks an action, the app's page (played here by a software authenticator written
// with node:crypto, and the client API requests the Web SDK makes) registers or presents a
// credential, and the SDK validates the token the client API answered. Then the sign-in
// without a token (the tenant id as Basic user), and the refusals an app must be able to
// rely on: a replayed assertion, a wrong origin, another user's credential.
//
// Run by tests/node/run.sh, which also sets AUTHSIGNAL_TENANT_ID (the program prints it as
// `Tenant:`). tests/node/emulator-config.json makes the emulator the relying party of
// https://app.example.com, where the page runs.
//
// The tests share state and run in order (node:test runs a file's tests one after another).

import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign } from "node:crypto";
import { describe, test } from "node:test";

import { Authsignal } from "@authsignal/node";

const apiUrl = process.env.AUTHSIGNAL_API_URL;
const apiSecretKey = process.env.AUTHSIGNAL_SECRET_KEY;
const tenantId = process.env.AUTHSIGNAL_TENANT_ID;
if (!apiUrl || !apiSecretKey || !tenantId) {
  throw new Error(
    "Set AUTHSIGNAL_API_URL, AUTHSIGNAL_SECRET_KEY and AUTHSIGNAL_TENANT_ID to a running " +
      "authsignal-emulator (tests/node/run.sh does).",
  );
}

// The relying party tests/node/emulator-config.json configures.
const RP_ID = "app.example.com";
const ORIGIN = "https://app.example.com";

// Retries off: the emulator is local, and a retried request would hide a failure.
const authsignal = new Authsignal({ apiSecretKey, apiUrl, retries: 0 });

// Unique per run, so that the scenario also passes against a long-lived emulator.
const run = randomUUID().slice(0, 8);
const erin = `erin-${run}`;
const frank = `frank-${run}`;
const grace = `grace-${run}`;

// --- WebAuthn's encodings, the few a "none" attestation and an assertion need ---

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const sha256 = (bytes) => createHash("sha256").update(bytes).digest();

/** A CBOR data item head: major type and argument (RFC 8949 §3). */
function cborHead(major, argument) {
  if (argument < 24) return Buffer.from([(major << 5) | argument]);
  if (argument < 0x100) return Buffer.from([(major << 5) | 24, argument]);
  if (argument < 0x10000) {
    const head = Buffer.alloc(3);
    head[0] = (major << 5) | 25;
    head.writeUInt16BE(argument, 1);
    return head;
  }
  const head = Buffer.alloc(5);
  head[0] = (major << 5) | 26;
  head.writeUInt32BE(argument, 1);
  return head;
}

/** CBOR of integers, text, byte strings and Maps: all an attestation object holds. */
function cbor(value) {
  if (Number.isInteger(value)) return value >= 0 ? cborHead(0, value) : cborHead(1, -1 - value);
  if (typeof value === "string") {
    const bytes = Buffer.from(value, "utf8");
    return Buffer.concat([cborHead(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([cborHead(2, value.length), value]);
  if (value instanceof Map) {
    return Buffer.concat([
      cborHead(5, value.size),
      ...[...value].flatMap(([key, item]) => [cbor(key), cbor(item)]),
    ]);
  }
  throw new TypeError(`no CBOR for ${value}`);
}

const UP = 0x01; // user present
const UV = 0x04; // user verified
const AT = 0x40; // attested credential data included

/**
 * An authenticator and the browser in front of it, in software: an ES256 key pair, a
 * credential id and a signature counter. `create` and `get` answer creation and request
 * options with the `RegistrationResponseJSON` and `AuthenticationResponseJSON` the Web SDK
 * sends, as the page at `origin` would get them.
 */
class SoftAuthenticator {
  constructor({ userVerifying = true } = {}) {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    this.privateKey = privateKey;
    this.publicJwk = publicKey.export({ format: "jwk" });
    this.credentialId = randomBytes(16);
    this.counter = 0;
    this.flags = userVerifying ? UP | UV : UP;
    this.origin = ORIGIN;
  }

  get id() {
    return b64url(this.credentialId);
  }

  clientData(type, options) {
    return Buffer.from(
      JSON.stringify({ type, challenge: options.challenge, origin: this.origin, crossOrigin: false }),
    );
  }

  authenticatorData(rpId, flags, attested = Buffer.alloc(0)) {
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(this.counter);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), counter, attested]);
  }

  /** `navigator.credentials.create({publicKey: options})`, attestation "none". */
  create(options) {
    // The COSE_Key of an EC2 P-256 key for ES256 (RFC 9053 §7.1.1).
    const coseKey = new Map([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(this.publicJwk.x, "base64url")],
      [-3, Buffer.from(this.publicJwk.y, "base64url")],
    ]);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(this.credentialId.length);
    const attested = Buffer.concat([Buffer.alloc(16), idLength, this.credentialId, cbor(coseKey)]);
    const authData = this.authenticatorData(options.rp.id, this.flags | AT, attested);
    const attestationObject = cbor(
      new Map([
        ["fmt", "none"],
        ["attStmt", new Map()],
        ["authData", authData],
      ]),
    );
    return {
      id: this.id,
      rawId: this.id,
      type: "public-key",
      response: {
        clientDataJSON: b64url(this.clientData("webauthn.create", options)),
        attestationObject: b64url(attestationObject),
        transports: ["internal"],
      },
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    };
  }

  /** `navigator.credentials.get({publicKey: options})`, the counter moved on by one. */
  get(options, userId) {
    this.counter += 1;
    const clientData = this.clientData("webauthn.get", options);
    const authData = this.authenticatorData(options.rpId, this.flags);
    // ECDSA over authenticator data and the client data's hash; node:crypto answers DER,
    // as WebAuthn carries it.
    const signature = sign("sha256", Buffer.concat([authData, sha256(clientData)]), this.privateKey);
    return {
      id: this.id,
      rawId: this.id,
      type: "public-key",
      response: {
        clientDataJSON: b64url(clientData),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: b64url(Buffer.from(userId, "utf8")),
      },
      clientExtensionResults: {},
    };
  }
}

// --- The client API, as the Web SDK calls it ---

/** A client API request: with a Bearer token, or (no token) the tenant id as Basic user. */
async function clientApi(method, path, { token, tenant = tenantId, body } = {}) {
  const authorization = token
    ? `Bearer ${token}`
    : `Basic ${Buffer.from(encodeURIComponent(tenant)).toString("base64")}`;
  const response = await fetch(`${apiUrl}/client/${path}`, {
    method,
    headers: {
      Authorization: authorization,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const post = (path, options) => clientApi("POST", path, options);

/** Asserts a 200 and answers its body. */
function ok({ status, body }) {
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

/** A refused credential or assertion: 400 `invalid_credential`, the reason in the text. */
function assertRefused({ status, body }, reason) {
  assert.equal(status, 400, JSON.stringify(body));
  assert.equal(body.errorCode, "invalid_credential", JSON.stringify(body));
  assert.match(body.errorDescription, reason);
}

/** `passkey.signUp({token})`: options, then the credential; answers the client API's answer. */
async function signUpPasskey(token, authenticator, username) {
  const { challengeId, options } = ok(
    await post("user-authenticators/passkey/registration-options", { token, body: { username } }),
  );
  return post("user-authenticators/passkey", {
    token,
    body: { registrationCredential: authenticator.create(options), challengeId },
  });
}

/** `passkey.signIn({token})`'s first half: the options for the token's step-up. */
async function passkeyOptions(token) {
  return ok(await post("user-authenticators/passkey/authentication-options", { token, body: {} }));
}

function verifyPasskey(token, { challengeId }, assertion) {
  return post("verify/passkey", {
    token,
    body: { authenticationCredential: assertion, deviceId: `device-${run}`, challengeId },
  });
}

/** `securityKey.verify()`'s first half: the options come back bare, with no challengeId. */
async function securityKeyOptions(token) {
  return ok(
    await post("user-authenticators/security-key/authentication-options", { token, body: {} }),
  );
}

/** `securityKey.verify()`'s second half: the assertion is the whole body. */
const verifySecurityKey = (token, assertion) =>
  post("verify/security-key", { token, body: assertion });

/** A step-up on changePassword (always challenged) for `userId`: its token. */
async function stepUp(userId) {
  const tracked = await authsignal.track({ userId, action: "changePassword" });
  assert.equal(tracked.state, "CHALLENGE_REQUIRED");
  return tracked.token;
}

/** What the SDK's validateChallenge says of `token` now. */
const validate = (token, request = {}) => authsignal.validateChallenge({ token, ...request });

/** A refused step-up leaves its action challenged, not passed. */
async function assertStillChallenged(token) {
  const validation = await validate(token);
  assert.equal(validation.isValid, false);
  assert.equal(validation.state, "CHALLENGE_REQUIRED");
}

// What the steps hand on to later ones.
const state = {};

describe("passkeys through the client API, validated with the Node SDK", () => {
  const phone = new SoftAuthenticator();

  test("a tracked user registers a passkey with the track token", async () => {
    await authsignal.updateUser({ userId: erin, attributes: { email: `${erin}@example.com` } });
    const tracked = await authsignal.track({ userId: erin, action: "signIn" });
    assert.equal(tracked.isEnrolled, false);
    assert.equal(tracked.state, "CHALLENGE_REQUIRED");

    const { challengeId, options } = ok(
      await post("user-authenticators/passkey/registration-options", {
        token: tracked.token,
        body: { username: `${erin}@example.com` },
      }),
    );
    assert.equal(typeof challengeId, "string");
    assert.equal(options.rp.id, RP_ID);
    assert.equal(options.user.id, b64url(Buffer.from(erin)));
    assert.equal(options.user.name, `${erin}@example.com`);
    assert.deepEqual(options.pubKeyCredParams, [{ type: "public-key", alg: -7 }]);
    assert.equal(options.authenticatorSelection.userVerification, "required");

    const added = ok(
      await post("user-authenticators/passkey", {
        token: tracked.token,
        body: { registrationCredential: phone.create(options), challengeId },
      }),
    );
    assert.equal(added.isVerified, true);
    assert.equal(added.userId, erin);
    assert.equal(added.userAuthenticator.verificationMethod, "PASSKEY");
    assert.equal(added.userAuthenticator.webauthnCredential.credentialId, phone.id);

    const validation = await validate(added.accessToken, { userId: erin, action: "signIn" });
    assert.equal(validation.isValid, true);
    assert.equal(validation.state, "CHALLENGE_SUCCEEDED");
    assert.equal(validation.verificationMethod, "PASSKEY");
    assert.equal(validation.idempotencyKey, tracked.idempotencyKey);
    state.erinAccessToken = added.accessToken;
    state.erinAuthenticatorId = added.userAuthenticatorId;
  });

  test("getAuthenticators and GET /client/user-authenticators list the passkey", async () => {
    const [authenticator, ...others] = await authsignal.getAuthenticators({ userId: erin });
    assert.deepEqual(others, []);
    assert.equal(authenticator.verificationMethod, "PASSKEY");
    assert.equal(authenticator.userAuthenticatorId, state.erinAuthenticatorId);
    assert.equal(authenticator.webauthnCredential.credentialId, phone.id);

    const listed = ok(
      await clientApi("GET", "user-authenticators", { token: state.erinAccessToken }),
    );
    assert.deepEqual(
      listed.map(({ verificationMethod, userAuthenticatorId }) => ({
        verificationMethod,
        userAuthenticatorId,
      })),
      [{ verificationMethod: "PASSKEY", userAuthenticatorId: state.erinAuthenticatorId }],
    );
    assert.equal((await authsignal.getUser({ userId: erin })).isEnrolled, true);
  });

  test("a second action steps up with the passkey and validates as PASSKEY", async () => {
    const token = await stepUp(erin);
    const options = await passkeyOptions(token);
    assert.equal(options.options.rpId, RP_ID);
    assert.deepEqual(options.options.allowCredentials, [{ id: phone.id, type: "public-key" }]);
    assert.equal(options.options.userVerification, "required");
    await assertStillChallenged(token);

    const assertion = phone.get(options.options, erin);
    const verified = ok(await verifyPasskey(token, options, assertion));
    assert.equal(verified.isVerified, true);
    assert.equal(verified.userId, erin);
    assert.equal(verified.userAuthenticatorId, state.erinAuthenticatorId);

    const validation = await validate(verified.accessToken, {
      userId: erin,
      action: "changePassword",
    });
    assert.equal(validation.isValid, true);
    assert.equal(validation.state, "CHALLENGE_SUCCEEDED");
    assert.equal(validation.verificationMethod, "PASSKEY");
    // The track token names the same action: it validates as passed too.
    assert.equal((await validate(token)).state, "CHALLENGE_SUCCEEDED");
    state.erinAssertion = { token, options, assertion };
  });

  test("a replayed assertion is refused, in its own ceremony and in a new one", async () => {
    const { token, options, assertion } = state.erinAssertion;
    assertRefused(await verifyPasskey(token, options, assertion), /already used/);

    const fresh = await stepUp(erin);
    const freshOptions = await passkeyOptions(fresh);
    assertRefused(await verifyPasskey(fresh, freshOptions, assertion), /challenge/);
    await assertStillChallenged(fresh);
  });

  test("an assertion made on another origin is refused", async () => {
    const token = await stepUp(erin);
    const options = await passkeyOptions(token);
    phone.origin = "https://app.example.com.evil.example";
    try {
      assertRefused(await verifyPasskey(token, options, phone.get(options.options, erin)), /origin/);
    } finally {
      phone.origin = ORIGIN;
    }
    await assertStillChallenged(token);
  });

  test("a registration made on another origin is refused", async () => {
    // Erin proves her passkey first, so that her token may add another.
    const token = await stepUp(erin);
    const options = await passkeyOptions(token);
    const { accessToken } = ok(await verifyPasskey(token, options, phone.get(options.options, erin)));
    const laptop = new SoftAuthenticator();
    laptop.origin = "https://evil.example";
    assertRefused(await signUpPasskey(accessToken, laptop, `${erin}@example.com`), /origin/);
    assert.equal((await authsignal.getAuthenticators({ userId: erin })).length, 1);
  });

  test("another user's passkey does not pass a step-up", async () => {
    // Frank has a passkey of his own, so that his step-up asks for one.
    const franksPhone = new SoftAuthenticator();
    const signUp = await authsignal.track({ userId: frank, action: "signIn" });
    ok(await signUpPasskey(signUp.token, franksPhone, `${frank}@example.com`));

    // Erin's passkey answers Frank's step-up, naming Erin's user handle or Frank's.
    for (const handle of [erin, frank]) {
      const token = await stepUp(frank);
      const options = await passkeyOptions(token);
      const assertion = phone.get(options.options, handle);
      assertRefused(await verifyPasskey(token, options, assertion), /another user/);
      await assertStillChallenged(token);
    }

    // A passkey already registered to Erin cannot be registered to Frank.
    const proven = await stepUp(frank);
    const options = await passkeyOptions(proven);
    const assertion = franksPhone.get(options.options, frank);
    const { accessToken } = ok(await verifyPasskey(proven, options, assertion));
    assertRefused(
      await signUpPasskey(accessToken, phone, `${frank}@example.com`),
      /already registered/,
    );
    assert.equal((await authsignal.getAuthenticators({ userId: frank })).length, 1);
  });
});

describe("security keys through the client API, validated with the Node SDK", () => {
  // A security key need not verify its user: presence is enough.
  const key = new SoftAuthenticator({ userVerifying: false });

  test("a tracked user enrolls a security key with the track token", async () => {
    const tracked = await authsignal.track({ userId: grace, action: "signIn" });
    assert.equal(tracked.state, "CHALLENGE_REQUIRED");
    // A security key's options come back bare, and its credential is the whole body.
    const { token } = tracked;
    const options = ok(
      await post("user-authenticators/security-key/registration-options", { token, body: {} }),
    );
    assert.equal(options.rp.id, RP_ID);
    assert.equal(options.authenticatorSelection.authenticatorAttachment, "cross-platform");
    const added = ok(
      await post("user-authenticators/security-key", { token, body: key.create(options) }),
    );
    assert.equal(added.isVerified, true);
    assert.equal(added.userAuthenticator.verificationMethod, "SECURITY_KEY");

    const validation = await validate(added.accessToken, { userId: grace, action: "signIn" });
    assert.equal(validation.state, "CHALLENGE_SUCCEEDED");
    assert.equal(validation.verificationMethod, "SECURITY_KEY");

    const [authenticator, ...others] = await authsignal.getAuthenticators({ userId: grace });
    assert.deepEqual(others, []);
    assert.equal(authenticator.verificationMethod, "SECURITY_KEY");
    assert.equal(authenticator.userAuthenticatorId, added.userAuthenticatorId);
    const listed = ok(await clientApi("GET", "user-authenticators", { token: added.accessToken }));
    assert.deepEqual(
      listed.map(({ verificationMethod }) => verificationMethod),
      ["SECURITY_KEY"],
    );
  });

  test("a second action steps up with the security key and validates as SECURITY_KEY", async () => {
    const token = await stepUp(grace);
    // Not a passkey: the passkey routes have nothing to ask for.
    assert.equal(
      (await post("user-authenticators/passkey/authentication-options", { token, body: {} })).status,
      400,
    );
    const options = await securityKeyOptions(token);
    assert.deepEqual(options.allowCredentials, [{ id: key.id, type: "public-key" }]);
    const assertion = key.get(options, grace);
    const verified = ok(await verifySecurityKey(token, assertion));
    assert.equal(verified.isVerified, true);
    assert.equal(verified.userId, grace);

    const validation = await validate(verified.accessToken, {
      userId: grace,
      action: "changePassword",
    });
    assert.equal(validation.isValid, true);
    assert.equal(validation.verificationMethod, "SECURITY_KEY");
    state.graceAssertion = assertion;
  });

  test("a replayed, misplaced or borrowed security key assertion is refused", async () => {
    const replayedTo = await stepUp(grace);
    await securityKeyOptions(replayedTo);
    assertRefused(await verifySecurityKey(replayedTo, state.graceAssertion), /already used/);
    await assertStillChallenged(replayedTo);

    const elsewhere = await stepUp(grace);
    const options = await securityKeyOptions(elsewhere);
    key.origin = "https://evil.example";
    try {
      assertRefused(await verifySecurityKey(elsewhere, key.get(options, grace)), /origin/);
    } finally {
      key.origin = ORIGIN;
    }
    await assertStillChallenged(elsewhere);
  });
});

describe("a passkey sign-in without a token (the tenant id as Basic user)", () => {
  const phone = new SoftAuthenticator();
  const user = `henry-${run}`;

  /** `passkey.signIn({action})`: a challenge, then options open to any passkey. */
  async function signInOptions(action) {
    const { challengeId } = ok(await post("challenge", { body: { action } }));
    assert.equal(typeof challengeId, "string");
    const options = ok(
      await post("user-authenticators/passkey/authentication-options", { body: { challengeId } }),
    );
    // The Web SDK verifies with the options' challengeId (1.16.0 dist/index.js, signIn).
    assert.equal(typeof options.challengeId, "string");
    return options;
  }

  const verifySignIn = ({ challengeId }, assertion) =>
    post("verify/passkey", { body: { authenticationCredential: assertion, challengeId } });

  test("a registered passkey signs in, and the SDK validates the token it answers", async () => {
    const signUp = await authsignal.track({ userId: user, action: "signIn" });
    ok(await signUpPasskey(signUp.token, phone, `${user}@example.com`));

    const options = await signInOptions("signIn");
    assert.equal(options.options.rpId, RP_ID);
    assert.deepEqual(options.options.allowCredentials ?? [], []);
    const assertion = phone.get(options.options, user);
    const signedIn = ok(await verifySignIn(options, assertion));
    assert.equal(signedIn.isVerified, true);
    assert.equal(signedIn.userId, user);
    assert.equal(signedIn.username, `${user}@example.com`);

    const validation = await validate(signedIn.accessToken, { userId: user, action: "signIn" });
    assert.equal(validation.isValid, true);
    assert.equal(validation.state, "CHALLENGE_SUCCEEDED");
    assert.equal(validation.userId, user);
    assert.equal(validation.verificationMethod, "PASSKEY");
    // Another user's id does not pass for the token's.
    assert.equal((await validate(signedIn.accessToken, { userId: erin })).isValid, false);
    state.signIn = { options, assertion };
  });

  test("a replayed sign-in assertion is refused, and answers no token", async () => {
    const { options, assertion } = state.signIn;
    const replayed = await verifySignIn(options, assertion);
    assertRefused(replayed, /already used/);
    assert.equal(replayed.body.accessToken, undefined);

    const fresh = await signInOptions("signIn");
    assertRefused(await verifySignIn(fresh, assertion), /challenge/);
  });

  test("a sign-in from another origin is refused", async () => {
    const options = await signInOptions("signIn");
    phone.origin = "http://localhost:3000";
    try {
      const refused = await verifySignIn(options, phone.get(options.options, user));
      assertRefused(refused, /origin/);
      assert.equal(refused.body.accessToken, undefined);
    } finally {
      phone.origin = ORIGIN;
    }
  });

  test("a sign-in needs this tenant's id", async () => {
    for (const tenant of [`another-${tenantId}`, ""]) {
      const { status, body } = await post("challenge", { tenant, body: { action: "signIn" } });
      assert.equal(status, 401, JSON.stringify(body));
      assert.equal(body.errorCode, "unauthorized");
    }
  });
});
