// The official Authsignal Node SDK (@authsignal/node, pinned in package.json) against the
// `authsignal-emulator` program: every Server API operation, plus the client API's TOTP
// routes, in the order an application meets them; the operations the SDK has no method for
// (devices, batch enrollment) as raw requests; a fault armed over the emulator-only route;
// and the emulator's webhooks, verified at the end with the SDK's webhook.constructEvent.
//
// Run by tests/node/run.sh, which starts the emulator with tests/node/emulator-config.json
// and sets AUTHSIGNAL_API_URL, AUTHSIGNAL_SECRET_KEY, AUTHSIGNAL_JWKS_URL and
// AUTHSIGNAL_TENANT_ID (which passkeys.test.mjs needs). By hand:
//   authsignal-emulator --port 0 --config tests/node/emulator-config.json
//   AUTHSIGNAL_API_URL=... AUTHSIGNAL_SECRET_KEY=... AUTHSIGNAL_JWKS_URL=... \
//   AUTHSIGNAL_TENANT_ID=... node --test --test-concurrency=1 tests/node/
//
// The tests share state and run in order (node:test runs a file's tests one after another).

import assert from "node:assert/strict";
import { createPublicKey, randomUUID, verify as verifySignature } from "node:crypto";
import { createServer } from "node:http";
import { after, describe, test } from "node:test";

import {
  Authsignal,
  AuthsignalError,
  handleAuth0ContinuePostLogin,
  handleAuth0ExecutePostLogin,
} from "@authsignal/node";

import { totp } from "./totp.mjs";

const apiUrl = process.env.AUTHSIGNAL_API_URL;
const apiSecretKey = process.env.AUTHSIGNAL_SECRET_KEY;
// The emulator's JWKS, for checking session tokens locally.
const jwksUrl = process.env.AUTHSIGNAL_JWKS_URL;
if (!apiUrl || !apiSecretKey) {
  throw new Error(
    "Set AUTHSIGNAL_API_URL and AUTHSIGNAL_SECRET_KEY to a running authsignal-emulator (tests/node/run.sh does).",
  );
}

const UNAUTHORIZED =
  "The request is unauthorized. Check that your API key and region base URL are correctly configured.";

// Retries off: the emulator is local, and a retried request would hide a failure.
const authsignal = new Authsignal({ apiSecretKey, apiUrl, retries: 0 });

// The emulator sends its webhook events here (run.sh writes this URL into the config it
// starts the emulator with). Each is kept raw, to be verified by the SDK's own
// `webhook.constructEvent` at the end.
const webhookPort = Number(process.env.WEBHOOK_PORT);
const webhooks = [];
// Event types the receiver refuses (500), to see a synchronous webhook fail the request.
const refusing = new Set();
const receiver = createServer((request, response) => {
  let body = "";
  request.setEncoding("utf8");
  request.on("data", (chunk) => (body += chunk));
  request.on("end", () => {
    webhooks.push({ signature: request.headers["x-signature-v2"], body, path: request.url });
    const type = body.startsWith("{") ? JSON.parse(body).type : undefined;
    response.writeHead(refusing.has(type) ? 500 : 200).end();
  });
});
if (webhookPort) {
  await new Promise((listening) => receiver.listen(webhookPort, "127.0.0.1", listening));
}
after(() => receiver.close());

/** A Server API request the Node SDK 2.21 has no method for, sent as the SDK sends its own. */
async function serverApi(method, path, body) {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: {
      Authorization: `Basic ${Buffer.from(`${apiSecretKey}:`).toString("base64")}`,
      "User-Agent": "authsignal-node",
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

// Unique per run, so that the scenario also passes against a long-lived emulator.
const run = randomUUID().slice(0, 8);
const alice = `alice-${run}`;
const bob = `bob-${run}`;
const carol = `carol-${run}`;
const aliceEmail = `alice-${run}@example.com`;
const clientId = "web-app";

/** POST to the client API (what Authsignal's web/mobile SDKs call) with a Bearer token. */
async function clientApi(path, token, body = {}) {
  const response = await fetch(`${apiUrl}/client/${path}`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/**
 * The codes the emulator "sent" (GET /emulator/outbox, an emulator-only route behind the
 * same Basic auth as the Server API), oldest first; `to` keeps those sent to one address.
 */
async function outbox(to, secret = apiSecretKey) {
  const url = new URL(`${apiUrl}/emulator/outbox`);
  if (to !== undefined) url.searchParams.set("to", to);
  const response = await fetch(url, {
    headers: { Authorization: `Basic ${Buffer.from(`${secret}:`).toString("base64")}` },
  });
  return { status: response.status, body: await response.json() };
}

/** The text of the pre-built UI element with this id (one holding no markup). */
function elementText(html, id) {
  const match = new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(html);
  return match?.[1];
}

/** Asserts that `promise` rejects with an AuthsignalError of this status and code. */
async function rejectsWith(promise, statusCode, errorCode, description) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof AuthsignalError, `an AuthsignalError, not ${error}`);
    assert.equal(error.statusCode, statusCode, error.message);
    assert.equal(error.errorCode, errorCode, error.message);
    if (description !== undefined) assert.equal(error.errorDescription, description);
    return true;
  });
}

/** An Auth0 post-login `event` and `api` as the SDK's Auth0 helpers take them. */
function auth0(userId, query = {}) {
  const calls = [];
  const event = {
    transaction: { protocol: "oidc-basic-profile" },
    secrets: { AUTHSIGNAL_SECRET: apiSecretKey },
    user: { user_id: userId, email: `${userId}@example.com` },
    request: { hostname: "app.example.com", ip: "198.51.100.7", user_agent: "scenario", query },
    authentication: { methods: [] },
  };
  const api = {
    redirect: { sendUserTo: (url) => calls.push(["redirect", url]) },
    access: { deny: (reason) => calls.push(["deny", reason]) },
    authentication: { recordMethod: (method) => calls.push(["record", method]) },
  };
  return { event, api, calls };
}

const isoDate = (text) => assert.ok(!Number.isNaN(Date.parse(text)), `an ISO date: ${text}`);

// What the steps hand on to later ones.
const state = {};

describe("users", () => {
  test("updateUser creates a user and answers its attributes", async () => {
    const attributes = await authsignal.updateUser({
      userId: alice,
      attributes: {
        email: aliceEmail,
        username: `alice_${run}`,
        displayName: "Alice",
        custom: { tier: "gold", age: 42, vip: true },
      },
    });
    assert.equal(attributes.email, aliceEmail);
    assert.equal(attributes.username, `alice_${run}`);
    assert.equal(attributes.displayName, "Alice");
    assert.deepEqual(attributes.custom, { tier: "gold", age: 42, vip: true });
  });

  test("getUser answers the attributes of a user not yet enrolled", async () => {
    const user = await authsignal.getUser({ userId: alice });
    assert.equal(user.isEnrolled, false);
    assert.equal(user.email, aliceEmail);
    assert.equal(user.emailVerified, false);
    assert.equal(user.phoneNumberVerified, false);
    assert.equal(user.username, `alice_${run}`);
    assert.equal(user.displayName, "Alice");
    assert.deepEqual(user.custom, { tier: "gold", age: 42, vip: true });
    assert.deepEqual(user.enrolledVerificationMethods ?? [], []);
  });

  test("getUser of an unknown user is isEnrolled: false, not an error", async () => {
    const user = await authsignal.getUser({ userId: `nobody-${run}` });
    assert.equal(user.isEnrolled, false);
    assert.equal(user.email, undefined);
  });

  test("queryUsers finds users by email and by username", async () => {
    await authsignal.updateUser({ userId: bob, attributes: { email: `bob-${run}@example.com` } });
    const byEmail = await authsignal.queryUsers({ email: aliceEmail });
    assert.deepEqual(
      byEmail.users.map((user) => user.userId),
      [alice],
    );
    assert.equal(byEmail.users[0].email, aliceEmail);
    assert.equal(byEmail.users[0].emailVerified, false);
    const byUsername = await authsignal.queryUsers({ username: `alice_${run}` });
    assert.deepEqual(
      byUsername.users.map((user) => user.userId),
      [alice],
    );
    const none = await authsignal.queryUsers({ email: `nobody-${run}@example.com` });
    assert.deepEqual(none.users, []);
  });

  test("deleteUser removes the user", async () => {
    await authsignal.deleteUser({ userId: bob });
    const user = await authsignal.getUser({ userId: bob });
    assert.equal(user.isEnrolled, false);
    assert.equal(user.email, undefined);
    const found = await authsignal.queryUsers({ email: `bob-${run}@example.com` });
    assert.deepEqual(found.users, []);
  });
});

describe("authenticators", () => {
  test("enrollVerifiedAuthenticator enrolls SMS with a phone number", async () => {
    const enrolled = await authsignal.enrollVerifiedAuthenticator({
      userId: carol,
      attributes: { verificationMethod: "SMS", phoneNumber: "+64270000001" },
    });
    const { authenticator } = enrolled;
    assert.equal(authenticator.userId, carol);
    assert.equal(authenticator.verificationMethod, "SMS");
    assert.equal(authenticator.phoneNumber, "+64270000001");
    assert.ok(authenticator.userAuthenticatorId);
    isoDate(authenticator.createdAt);
    isoDate(authenticator.verifiedAt);
    // The first authenticator comes with recovery codes.
    assert.ok(Array.isArray(enrolled.recoveryCodes) && enrolled.recoveryCodes.length > 0);
    state.carolSms = authenticator.userAuthenticatorId;

    const user = await authsignal.getUser({ userId: carol });
    assert.equal(user.isEnrolled, true);
    assert.equal(user.phoneNumber, "+64270000001");
    assert.equal(user.phoneNumberVerified, true);
    assert.deepEqual(user.enrolledVerificationMethods, ["SMS"]);
  });

  test("enrollVerifiedAuthenticator refuses SMS without a phone number", async () => {
    await rejectsWith(
      authsignal.enrollVerifiedAuthenticator({
        userId: carol,
        attributes: { verificationMethod: "SMS" },
      }),
      400,
      "invalid_request",
    );
  });

  test("getAuthenticators lists the enrolled authenticators", async () => {
    const authenticators = await authsignal.getAuthenticators({ userId: carol });
    assert.equal(authenticators.length, 1);
    assert.equal(authenticators[0].userAuthenticatorId, state.carolSms);
    assert.equal(authenticators[0].verificationMethod, "SMS");
    assert.equal(authenticators[0].phoneNumber, "+64270000001");
  });

  test("deleteAuthenticator removes it; an unknown id is AUTHENTICATOR_NOT_FOUND", async () => {
    await authsignal.deleteAuthenticator({ userId: carol, userAuthenticatorId: state.carolSms });
    assert.deepEqual(await authsignal.getAuthenticators({ userId: carol }), []);
    assert.equal((await authsignal.getUser({ userId: carol })).isEnrolled, false);
    await rejectsWith(
      authsignal.deleteAuthenticator({ userId: carol, userAuthenticatorId: state.carolSms }),
      400,
      "AUTHENTICATOR_NOT_FOUND",
    );
  });
});

describe("TOTP enrollment through the client API", () => {
  test("track of an action that prompts enrollment challenges an unenrolled user", async () => {
    const tracked = await authsignal.track({
      userId: alice,
      action: "signIn",
      attributes: { redirectUrl: "https://app.example.com/callback" },
    });
    assert.equal(tracked.state, "CHALLENGE_REQUIRED");
    assert.equal(tracked.isEnrolled, false);
    assert.ok(tracked.token);
    assert.ok(tracked.url);
    state.signIn = tracked;
  });

  test("the client API refuses a request without a Bearer token", async () => {
    const answer = await clientApi("user-authenticators/totp", undefined);
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, "unauthorized");
  });

  test("POST /client/user-authenticators/totp answers the secret to add", async () => {
    const answer = await clientApi("user-authenticators/totp", state.signIn.token);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const { uri, secret, userAuthenticatorId, userId } = answer.body;
    assert.equal(userId, alice);
    assert.ok(userAuthenticatorId);
    assert.match(secret, /^[A-Z2-7]+=*$/);
    assert.match(uri, /^otpauth:\/\/totp\//);
    assert.equal(new URL(uri).searchParams.get("secret"), secret);
    state.totp = { secret, userAuthenticatorId };
    // Not listed (nor enrolled) until a code proves it.
    assert.deepEqual(await authsignal.getAuthenticators({ userId: alice }), []);
  });

  test("a wrong code is refused with CODE_INVALID_OR_EXPIRED", async () => {
    const right = totp(state.totp.secret);
    const wrong = String((Number(right) + 500000) % 1000000).padStart(6, "0");
    const answer = await clientApi("verify/totp", state.signIn.token, { verificationCode: wrong });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.isVerified, false);
    assert.equal(answer.body.accessToken, undefined);
    assert.equal(answer.body.failureReason, "CODE_INVALID_OR_EXPIRED");
  });

  test("POST /client/verify/totp with the app's code completes enrollment and challenge", async () => {
    const answer = await clientApi("verify/totp", state.signIn.token, {
      verificationCode: totp(state.totp.secret),
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.isVerified, true);
    assert.ok(answer.body.accessToken);

    const validation = await authsignal.validateChallenge({
      token: answer.body.accessToken,
      userId: alice,
      action: "signIn",
    });
    assert.equal(validation.isValid, true);
    assert.equal(validation.state, "CHALLENGE_SUCCEEDED");
    assert.equal(validation.verificationMethod, "AUTHENTICATOR_APP");

    const authenticators = await authsignal.getAuthenticators({ userId: alice });
    assert.equal(authenticators.length, 1);
    assert.equal(authenticators[0].userAuthenticatorId, state.totp.userAuthenticatorId);
    assert.equal(authenticators[0].verificationMethod, "AUTHENTICATOR_APP");
    const user = await authsignal.getUser({ userId: alice });
    assert.equal(user.isEnrolled, true);
    assert.deepEqual(user.enrolledVerificationMethods, ["AUTHENTICATOR_APP"]);
  });
});

describe("track and validateChallenge", () => {
  test("a small withdrawal is allowed", async () => {
    const tracked = await authsignal.track({
      userId: alice,
      action: "withdraw",
      attributes: { custom: { amount: 50 } },
    });
    assert.equal(tracked.state, "ALLOW");
    assert.equal(tracked.isEnrolled, true);
    assert.deepEqual(tracked.ruleIds ?? [], []);
    state.smallWithdraw = tracked;
  });

  test("a withdrawal above the rule's amount requires a challenge", async () => {
    const idempotencyKey = randomUUID();
    const tracked = await authsignal.track({
      userId: alice,
      action: "withdraw",
      attributes: {
        idempotencyKey,
        redirectUrl: "https://app.example.com/withdraw/done",
        ipAddress: "198.51.100.7",
        userAgent: "scenario.test.mjs",
        custom: { amount: 5000 },
      },
    });
    assert.equal(tracked.state, "CHALLENGE_REQUIRED");
    assert.equal(tracked.idempotencyKey, idempotencyKey);
    assert.equal(tracked.isEnrolled, true);
    assert.ok(tracked.token);
    assert.ok(tracked.url);
    assert.deepEqual(tracked.ruleIds, ["large-withdrawal"]);
    assert.deepEqual(tracked.enrolledVerificationMethods, ["AUTHENTICATOR_APP"]);
    assert.equal(tracked.defaultVerificationMethod, "AUTHENTICATOR_APP");
    state.withdraw = tracked;
  });

  test("the same idempotency key tracked again answers the first answer", async () => {
    const again = await authsignal.track({
      userId: alice,
      action: "withdraw",
      attributes: { idempotencyKey: state.withdraw.idempotencyKey, custom: { amount: 1 } },
    });
    assert.equal(again.state, "CHALLENGE_REQUIRED");
    assert.equal(again.token, state.withdraw.token);
  });

  test("an action configured to challenge always challenges; a blocking one blocks", async () => {
    const changePassword = await authsignal.track({ userId: alice, action: "changePassword" });
    assert.equal(changePassword.state, "CHALLENGE_REQUIRED");
    state.changePassword = changePassword;
    const closeAccount = await authsignal.track({ userId: alice, action: "closeAccount" });
    assert.equal(closeAccount.state, "BLOCK");
    state.closeAccount = closeAccount;
  });

  test("validateChallenge before the challenge is done is not valid", async () => {
    const validation = await authsignal.validateChallenge({
      token: state.withdraw.token,
      userId: alice,
      action: "withdraw",
    });
    assert.equal(validation.isValid, false);
    assert.equal(validation.state, "CHALLENGE_REQUIRED");
  });

  test("TOTP verify through the client API with the track token", async () => {
    const answer = await clientApi("verify/totp", state.withdraw.token, {
      verificationCode: totp(state.totp.secret),
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.isVerified, true);
    assert.ok(answer.body.accessToken);
    state.withdrawProof = answer.body.accessToken;
  });

  test("validateChallenge of the new token: CHALLENGE_SUCCEEDED", async () => {
    const validation = await authsignal.validateChallenge({
      token: state.withdrawProof,
      userId: alice,
      action: "withdraw",
    });
    assert.equal(validation.isValid, true);
    assert.equal(validation.state, "CHALLENGE_SUCCEEDED");
    assert.equal(validation.userId, alice);
    assert.equal(validation.action, "withdraw");
    assert.equal(validation.idempotencyKey, state.withdraw.idempotencyKey);
    assert.equal(validation.verificationMethod, "AUTHENTICATOR_APP");
    isoDate(validation.stateUpdatedAt);
    assert.equal(validation.error, undefined);
  });

  test("validateChallenge with no userId (login) names the user", async () => {
    const validation = await authsignal.validateChallenge({ token: state.withdrawProof });
    assert.equal(validation.isValid, true);
    assert.equal(validation.userId, alice);
    assert.equal(validation.action, "withdraw");
  });

  test("validateChallenge of another user: 'User is invalid.'", async () => {
    const validation = await authsignal.validateChallenge({
      token: state.withdrawProof,
      userId: `mallory-${run}`,
      action: "withdraw",
    });
    assert.deepEqual(validation, { isValid: false, error: "User is invalid.", action: undefined });
  });

  test("validateChallenge of another action: 'Action is invalid.'", async () => {
    const validation = await authsignal.validateChallenge({
      token: state.withdrawProof,
      userId: alice,
      action: "changePassword",
    });
    assert.deepEqual(validation, { isValid: false, error: "Action is invalid.", action: undefined });
  });

  test("validateChallenge of a forged token is not valid", async () => {
    const [header, payload] = state.withdrawProof.split(".");
    const validation = await authsignal.validateChallenge({
      token: `${header}.${payload}.${"A".repeat(43)}`,
    });
    assert.equal(validation.isValid, false);
    assert.ok(validation.error);
  });
});

describe("actions", () => {
  test("getAction answers the state, the method and the rule that decided", async () => {
    const action = await authsignal.getAction({
      userId: alice,
      action: "withdraw",
      idempotencyKey: state.withdraw.idempotencyKey,
    });
    assert.equal(action.state, "CHALLENGE_SUCCEEDED");
    assert.equal(action.verificationMethod, "AUTHENTICATOR_APP");
    isoDate(action.createdAt);
    isoDate(action.stateUpdatedAt);
    assert.deepEqual(action.rules, [
      {
        ruleId: "large-withdrawal",
        name: "Large withdrawal",
        description: "Challenge withdrawals above 1000",
      },
    ]);
  });

  test("getAction of an unknown idempotency key is an error", async () => {
    await assert.rejects(
      authsignal.getAction({ userId: alice, action: "withdraw", idempotencyKey: randomUUID() }),
      (error) => error instanceof AuthsignalError && error.statusCode === 404,
    );
  });

  test("updateAction sets a state, which getAction then answers", async () => {
    const updated = await authsignal.updateAction({
      userId: alice,
      action: "changePassword",
      idempotencyKey: state.changePassword.idempotencyKey,
      attributes: { state: "CHALLENGE_FAILED" },
    });
    assert.equal(updated.state, "CHALLENGE_FAILED");
    const action = await authsignal.getAction({
      userId: alice,
      action: "changePassword",
      idempotencyKey: state.changePassword.idempotencyKey,
    });
    assert.equal(action.state, "CHALLENGE_FAILED");
    const validation = await authsignal.validateChallenge({ token: state.changePassword.token });
    assert.equal(validation.isValid, false);
    assert.equal(validation.state, "CHALLENGE_FAILED");
  });

  test("queryUserActions lists the user's actions, newest first, with filters", async () => {
    const all = await authsignal.queryUserActions({ userId: alice });
    assert.deepEqual(
      all.map((action) => action.actionCode),
      ["closeAccount", "changePassword", "withdraw", "withdraw", "signIn"],
    );
    const withdrawal = all.find((a) => a.idempotencyKey === state.withdraw.idempotencyKey);
    assert.equal(withdrawal.state, "CHALLENGE_SUCCEEDED");
    assert.equal(withdrawal.verificationMethod, "AUTHENTICATOR_APP");
    assert.equal(withdrawal.verifiedByAuthenticatorId, state.totp.userAuthenticatorId);
    isoDate(withdrawal.createdAt);

    const withdrawals = await authsignal.queryUserActions({
      userId: alice,
      actionCodes: ["withdraw"],
    });
    assert.deepEqual(
      withdrawals.map((action) => action.idempotencyKey),
      [state.withdraw.idempotencyKey, state.smallWithdraw.idempotencyKey],
    );
    const twoCodes = await authsignal.queryUserActions({
      userId: alice,
      actionCodes: ["signIn", "closeAccount"],
    });
    assert.deepEqual(twoCodes.map((action) => action.actionCode), ["closeAccount", "signIn"]);
    const succeeded = await authsignal.queryUserActions({
      userId: alice,
      state: "CHALLENGE_SUCCEEDED",
    });
    assert.deepEqual(succeeded.map((action) => action.actionCode), ["withdraw", "signIn"]);
    const future = await authsignal.queryUserActions({
      userId: alice,
      fromDate: new Date(Date.now() + 3_600_000).toISOString(),
    });
    assert.deepEqual(future, []);
  });
});

describe("one-time codes: challenge, getChallenge, verify, claimChallenge", () => {
  test("challenge sends an email OTP", async () => {
    const before = Math.floor(Date.now() / 1000);
    const sent = await authsignal.challenge({
      verificationMethod: "EMAIL_OTP",
      email: aliceEmail,
      action: "emailSignIn",
    });
    assert.ok(sent.challengeId);
    assert.ok(sent.idempotencyKey);
    assert.equal(typeof sent.expiresAt, "number");
    assert.ok(sent.expiresAt > before, `expiresAt ${sent.expiresAt} is in the future`);
    state.emailChallenge = sent;
  });

  test("getChallenge answers the pending challenge, by id and by action", async () => {
    const byId = await authsignal.getChallenge({ challengeId: state.emailChallenge.challengeId });
    assert.equal(byId.challengeId, state.emailChallenge.challengeId);
    assert.equal(byId.verificationMethod, "EMAIL_OTP");
    assert.equal(byId.email, aliceEmail);
    assert.equal(byId.action, "emailSignIn");
    assert.equal(byId.expiresAt, state.emailChallenge.expiresAt);
    const byAction = await authsignal.getChallenge({
      action: "emailSignIn",
      verificationMethod: "EMAIL_OTP",
    });
    assert.equal(byAction.challengeId, state.emailChallenge.challengeId);
  });

  test("verify with a wrong code: CODE_INVALID_OR_EXPIRED", async () => {
    const answer = await authsignal.verify({
      challengeId: state.emailChallenge.challengeId,
      verificationCode: "not-a-code",
    });
    assert.equal(answer.isVerified, false);
    assert.equal(answer.failureReason, "CODE_INVALID_OR_EXPIRED");
  });

  test("the outbox route answers the sent codes, to the tenant secret only", async () => {
    const denied = await outbox(aliceEmail, `wrong-${run}`);
    assert.equal(denied.status, 401);
    assert.equal(denied.body.error, "unauthorized");
    const { status, body } = await outbox(aliceEmail);
    assert.equal(status, 200);
    assert.ok(Array.isArray(body), JSON.stringify(body));
    const sent = body.find((message) => message.challengeId === state.emailChallenge.challengeId);
    assert.ok(sent, `the email challenge in ${JSON.stringify(body.map((m) => m.challengeId))}`);
    assert.equal(sent.to, aliceEmail);
    assert.equal(sent.verificationMethod, "EMAIL_OTP");
    assert.equal(sent.action, "emailSignIn");
    assert.match(sent.code, /^\d{6}$/);
    isoDate(sent.sentAt);
    assert.ok(body.every((message) => message.to === aliceEmail), "filtered by `to`");
  });

  test("verify with the emailed code, then claimChallenge: a token that validates", async () => {
    const sent = await authsignal.challenge({
      verificationMethod: "EMAIL_OTP",
      email: aliceEmail,
      action: "emailVerify",
    });
    const { body } = await outbox(aliceEmail);
    const message = body.findLast((m) => m.challengeId === sent.challengeId);
    assert.ok(message, "the code is in the outbox");

    const verified = await authsignal.verify({
      challengeId: sent.challengeId,
      verificationCode: message.code,
    });
    assert.equal(verified.isVerified, true, JSON.stringify(verified));
    assert.equal(verified.email, aliceEmail);
    assert.equal(verified.verificationMethod, "EMAIL_OTP");
    assert.equal(verified.failureReason, undefined);
    // A code verifies once.
    const replay = await authsignal.verify({
      challengeId: sent.challengeId,
      verificationCode: message.code,
    });
    assert.equal(replay.isVerified, false);

    const claimed = await authsignal.claimChallenge({ challengeId: sent.challengeId, userId: alice });
    assert.ok(claimed.token);
    assert.equal(claimed.verificationMethod, "EMAIL_OTP");
    const validation = await authsignal.validateChallenge({
      token: claimed.token,
      userId: alice,
      action: "emailVerify",
    });
    assert.equal(validation.isValid, true, JSON.stringify(validation));
    assert.equal(validation.state, "CHALLENGE_SUCCEEDED");
    assert.equal(validation.userId, alice);
    assert.equal(validation.action, "emailVerify");
    assert.equal(validation.idempotencyKey, sent.idempotencyKey);
    assert.equal(validation.verificationMethod, "EMAIL_OTP");
  });

  test("claimChallenge of an unverified challenge is refused", async () => {
    await rejectsWith(
      authsignal.claimChallenge({ challengeId: state.emailChallenge.challengeId, userId: alice }),
      400,
      "invalid_request",
    );
  });

  test("claimChallenge with skipVerificationCheck answers a token for the user", async () => {
    const claimed = await authsignal.claimChallenge({
      challengeId: state.emailChallenge.challengeId,
      userId: alice,
      skipVerificationCheck: true,
    });
    assert.ok(claimed.token);
    assert.equal(claimed.verificationMethod, "EMAIL_OTP");
    const validation = await authsignal.validateChallenge({ token: claimed.token, userId: alice });
    assert.equal(validation.userId, alice);
    assert.equal(validation.action, "emailSignIn");
    assert.equal(validation.idempotencyKey, state.emailChallenge.idempotencyKey);
    // Not verified, so not a success.
    assert.equal(validation.isValid, false);
    assert.equal(validation.state, "CHALLENGE_REQUIRED");
    // Claimed by alice: nobody else may claim it.
    await rejectsWith(
      authsignal.claimChallenge({
        challengeId: state.emailChallenge.challengeId,
        userId: carol,
        skipVerificationCheck: true,
      }),
      400,
      "invalid_request",
    );
  });

  test("an SMS challenge for a user fails after too many wrong codes", async () => {
    const sent = await authsignal.challenge({
      verificationMethod: "SMS",
      phoneNumber: "+64270000002",
      userId: carol,
      action: "smsSignIn",
    });
    const pending = await authsignal.getChallenge({ userId: carol, action: "smsSignIn" });
    assert.equal(pending.challengeId, sent.challengeId);
    assert.equal(pending.verificationMethod, "SMS");
    assert.equal(pending.phoneNumber, "+64270000002");
    const reasons = [];
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const answer = await authsignal.verify({
        challengeId: sent.challengeId,
        verificationCode: "000000x",
      });
      assert.equal(answer.isVerified, false);
      reasons.push(answer.failureReason);
    }
    assert.equal(reasons[0], "CODE_INVALID_OR_EXPIRED");
    assert.equal(reasons.at(-1), "MAX_ATTEMPTS_EXCEEDED");
    // A failed challenge is no longer pending.
    const after = await authsignal.getChallenge({ challengeId: sent.challengeId });
    assert.equal(after.challengeId, undefined);
  });

  test("verify of an unknown challenge is an error", async () => {
    await rejectsWith(
      authsignal.verify({ challengeId: randomUUID(), verificationCode: "123456" }),
      400,
      "invalid_request",
    );
  });
});

describe("sessions", () => {
  test("createSession from a succeeded challenge's token", async () => {
    const session = await authsignal.createSession({
      clientId,
      token: state.withdrawProof,
      action: "withdraw",
    });
    assert.ok(session.accessToken);
    assert.ok(session.refreshToken);
    state.session = session;
  });

  test("the access token verifies against the JWKS with Node's own crypto", async () => {
    // As an API gateway checks a token without calling Authsignal: the emulator's JWKS
    // (run.sh reads its URL from the program's banner), RS256, the client as `aud`.
    assert.ok(jwksUrl, "AUTHSIGNAL_JWKS_URL is set (run.sh does)");
    const response = await fetch(jwksUrl);
    assert.equal(response.status, 200);
    const { keys } = await response.json();
    const verifyJwt = (token) => {
      const [header, payload, signature] = token.split(".");
      const { alg, kid } = JSON.parse(Buffer.from(header, "base64url").toString());
      const jwk = keys.find((key) => key.kid === kid);
      if (alg !== "RS256" || !jwk) return undefined;
      const good = verifySignature(
        "sha256",
        Buffer.from(`${header}.${payload}`),
        createPublicKey({ key: jwk, format: "jwk" }),
        Buffer.from(signature, "base64url"),
      );
      return good ? JSON.parse(Buffer.from(payload, "base64url").toString()) : undefined;
    };
    const claims = verifyJwt(state.session.accessToken);
    assert.ok(claims, "the signature verifies with the published key");
    assert.equal(claims.aud, clientId);
    assert.equal(claims.sub, alice);
    assert.ok(claims.exp > Math.floor(Date.now() / 1000), `exp ${claims.exp} is in the future`);
    // The same check refuses a token whose claims were changed after signing.
    const [header, , signature] = state.session.accessToken.split(".");
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: "mallory" })).toString("base64url");
    assert.equal(verifyJwt(`${header}.${forged}.${signature}`), undefined);
  });

  test("createSession from a token whose challenge has not succeeded is refused", async () => {
    await rejectsWith(
      authsignal.createSession({ clientId, token: state.changePassword.token }),
      400,
      "invalid_credential",
    );
  });

  test("validateSession answers the user, the expiry and the method", async () => {
    const now = Math.floor(Date.now() / 1000);
    const validated = await authsignal.validateSession({
      accessToken: state.session.accessToken,
      clientIds: [clientId],
    });
    assert.equal(validated.user.userId, alice);
    assert.equal(validated.user.email, aliceEmail);
    assert.equal(validated.verificationMethod, "AUTHENTICATOR_APP");
    assert.equal(typeof validated.expiresAt, "number");
    assert.ok(validated.expiresAt > now, `expiresAt ${validated.expiresAt} is in the future`);
    await rejectsWith(
      authsignal.validateSession({ accessToken: state.session.accessToken, clientIds: ["other"] }),
      400,
      "invalid_credential",
    );
  });

  test("refreshSession answers new tokens and spends the refresh token", async () => {
    const refreshed = await authsignal.refreshSession({ refreshToken: state.session.refreshToken });
    assert.ok(refreshed.accessToken);
    assert.ok(refreshed.refreshToken);
    assert.notEqual(refreshed.refreshToken, state.session.refreshToken);
    const validated = await authsignal.validateSession({ accessToken: refreshed.accessToken });
    assert.equal(validated.user.userId, alice);
    await rejectsWith(
      authsignal.refreshSession({ refreshToken: state.session.refreshToken }),
      400,
      "invalid_credential",
    );
    state.session = refreshed;
  });

  test("revokeSession ends the session", async () => {
    const result = await authsignal.revokeSession({ accessToken: state.session.accessToken });
    assert.equal(result, undefined);
    await rejectsWith(
      authsignal.validateSession({ accessToken: state.session.accessToken }),
      400,
      "invalid_credential",
    );
    await rejectsWith(
      authsignal.refreshSession({ refreshToken: state.session.refreshToken }),
      400,
      "invalid_credential",
    );
  });

  test("revokeUserSessions ends every session of the user", async () => {
    const first = await authsignal.createSession({ clientId, token: state.withdrawProof });
    const second = await authsignal.createSession({ clientId: "mobile-app", token: state.withdrawProof });
    for (const { accessToken } of [first, second]) {
      assert.equal((await authsignal.validateSession({ accessToken })).user.userId, alice);
    }
    const result = await authsignal.revokeUserSessions({ userId: alice });
    assert.equal(result, undefined);
    for (const { accessToken } of [first, second]) {
      await rejectsWith(authsignal.validateSession({ accessToken }), 400, "invalid_credential");
    }
  });
});

describe("the SDK's Auth0 helpers", () => {
  test("an enrolled user is sent to the url, and the verified token is accepted", async () => {
    const execute = auth0(alice);
    await handleAuth0ExecutePostLogin(execute.event, execute.api, {
      apiUrl,
      userId: alice,
      action: "changePassword",
    });
    assert.equal(execute.calls.length, 1, JSON.stringify(execute.calls));
    const [kind, url] = execute.calls[0];
    assert.equal(kind, "redirect");
    const trackToken = new URL(url).searchParams.get("token");
    assert.ok(trackToken, `a token in ${url}`);

    const verified = await clientApi("verify/totp", trackToken, {
      verificationCode: totp(state.totp.secret),
    });
    assert.equal(verified.body.isVerified, true, JSON.stringify(verified.body));

    const resume = auth0(alice, { token: verified.body.accessToken });
    await handleAuth0ContinuePostLogin(resume.event, resume.api, {
      apiUrl,
      userId: alice,
      action: "changePassword",
    });
    assert.deepEqual(resume.calls, [["record", apiUrl]]);

    const wrongAction = auth0(alice, { token: verified.body.accessToken });
    await handleAuth0ContinuePostLogin(wrongAction.event, wrongAction.api, {
      apiUrl,
      userId: alice,
      action: "withdraw",
    });
    assert.deepEqual(wrongAction.calls, [["deny", "MFA challenge failed"]]);
  });

  test("track answers a url in every state: an unenrolled user is sent to it to enroll", async () => {
    const newcomer = `dave-${run}`;
    const tracked = await authsignal.track({ userId: newcomer, action: "withdraw" });
    assert.equal(tracked.state, "ALLOW");
    assert.equal(tracked.isEnrolled, false);
    assert.equal(typeof tracked.url, "string", "track's url");
    const blocked = await authsignal.track({ userId: newcomer, action: "closeAccount" });
    assert.equal(blocked.state, "BLOCK");
    assert.equal(typeof blocked.url, "string", "a url even for BLOCK");

    // The helper's default action (auth0-login) is not configured: ALLOW, not enrolled.
    const execute = auth0(newcomer);
    await handleAuth0ExecutePostLogin(execute.event, execute.api, { apiUrl, userId: newcomer });
    assert.equal(execute.calls.length, 1, JSON.stringify(execute.calls));
    const [kind, url] = execute.calls[0];
    assert.equal(kind, "redirect");
    assert.equal(typeof url, "string", `redirected to ${url}`);

    // The pre-built UI offers an authenticator app to add, and takes its first code.
    const page = await fetch(url);
    assert.equal(page.status, 200);
    const html = await page.text();
    const secret = elementText(html, "totp-secret");
    assert.match(secret ?? "", /^[A-Z2-7]+=*$/, "the key to add is shown");
    const submitted = await fetch(new URL("/ui/challenge", url), {
      method: "POST",
      body: new URLSearchParams({
        token: new URL(url).searchParams.get("token"),
        code: totp(secret),
      }),
      redirect: "manual",
    });
    assert.equal(submitted.status, 303, await submitted.text());
    const back = new URL(submitted.headers.get("location"));
    assert.equal(`${back.origin}${back.pathname}`, "https://app.example.com/continue");

    // Back in Auth0, the token proves the enrollment, and the user is now enrolled.
    const resume = auth0(newcomer, { token: back.searchParams.get("token") });
    await handleAuth0ContinuePostLogin(resume.event, resume.api, { apiUrl, userId: newcomer });
    assert.deepEqual(resume.calls, [["record", apiUrl]]);
    const user = await authsignal.getUser({ userId: newcomer });
    assert.equal(user.isEnrolled, true);
    assert.deepEqual(user.enrolledVerificationMethods, ["AUTHENTICATOR_APP"]);
    await authsignal.deleteUser({ userId: newcomer });
  });
});

describe("devices and batch enrollment (raw HTTP: the Node SDK 2.21 has no methods for them)", () => {
  const dave = `dave-${run}`;

  test("a device tracked with a deviceId is listed, remembered and invalidated", async () => {
    await authsignal.track({ userId: dave, action: "withdraw", attributes: { deviceId: "laptop" } });
    const listed = await serverApi("GET", `/users/${dave}/devices`);
    assert.equal(listed.status, 200);
    assert.equal(listed.body.length, 1);
    assert.equal(listed.body[0].userId, dave);
    assert.equal(listed.body[0].deviceId, "laptop");
    isoDate(listed.body[0].createdAt);

    const until = new Date(Date.now() + 86_400_000).toISOString();
    const remembered = await serverApi("PATCH", `/users/${dave}/devices/laptop`, {
      rememberedUntil: until,
    });
    assert.equal(remembered.status, 200);
    assert.equal(Date.parse(remembered.body.rememberedUntil), Date.parse(until));
    const forgotten = await serverApi("PATCH", `/users/${dave}/devices/laptop`, {
      rememberedUntil: null,
    });
    assert.equal(forgotten.body.rememberedUntil, undefined);

    const invalidated = await serverApi("POST", `/users/${dave}/devices/laptop/invalidate`);
    assert.equal(invalidated.status, 200);
    isoDate(invalidated.body.invalidatedAt);
    const unknown = await serverApi("POST", `/users/${dave}/devices/phone/invalidate`);
    assert.equal(unknown.status, 404);
  });

  test("batchEnrollVerifiedAuthenticators enrolls passkeys and reports conflicts", async () => {
    const batch = await serverApi("POST", "/users/authenticators", {
      authenticators: [
        { userId: dave, verificationMethod: "PASSKEY", credentialId: `cred-${run}`, credentialPublicKey: "pk", name: "Laptop" },
        { userId: `erin-${run}`, verificationMethod: "PASSKEY", credentialId: `cred-${run}`, credentialPublicKey: "pk" },
      ],
    });
    assert.equal(batch.status, 200);
    assert.deepEqual(
      { total: batch.body.total, succeeded: batch.body.succeeded, failed: batch.body.failed },
      { total: 2, succeeded: 1, failed: 1 },
    );
    assert.equal(batch.body.failures[0].errorCode, "conflict");
    const authenticators = await authsignal.getAuthenticators({ userId: dave });
    assert.equal(authenticators.length, 1);
    assert.equal(authenticators[0].verificationMethod, "PASSKEY");
    assert.equal(authenticators[0].webauthnCredential.credentialId, `cred-${run}`);
    await authsignal.deleteUser({ userId: dave });
  });
});

describe("fields the emulator added for the live API's shape", () => {
  test("validate answers actionCode beside action; getAction answers an output", async () => {
    const tracked = await authsignal.track({ userId: carol, action: "changePassword" });
    const raw = await serverApi("POST", "/validate", { token: tracked.token });
    assert.equal(raw.body.action, "changePassword");
    assert.equal(raw.body.actionCode, "changePassword");
    // The SDK reads actionCode into action.
    const validated = await authsignal.validateChallenge({ token: tracked.token });
    assert.equal(validated.action, "changePassword");
    const action = await authsignal.getAction({
      userId: carol,
      action: "changePassword",
      idempotencyKey: tracked.idempotencyKey,
    });
    assert.deepEqual(action.output, {});
  });

  test("updateUser sets the locale and the default method, which getUser answers", async () => {
    const frank = `frank-${run}`;
    await authsignal.enrollVerifiedAuthenticator({
      userId: frank,
      attributes: { verificationMethod: "SMS", phoneNumber: "+64270000009" },
    });
    await authsignal.enrollVerifiedAuthenticator({
      userId: frank,
      attributes: { verificationMethod: "EMAIL_OTP", email: `frank-${run}@example.com` },
    });
    const updated = await authsignal.updateUser({
      userId: frank,
      attributes: { locale: "de", defaultVerificationMethod: "EMAIL_OTP" },
    });
    assert.equal(updated.defaultVerificationMethod, "EMAIL_OTP");
    const user = await authsignal.getUser({ userId: frank });
    assert.equal(user.locale, "de");
    assert.equal(user.defaultVerificationMethod, "EMAIL_OTP");
    await authsignal.deleteUser({ userId: frank });
  });
});

describe("faults over the emulator-only route", () => {
  // On track, a POST: the SDK retries a 5xx only for GET (and the Auth0 helpers above made
  // a client with retries, which axios-retry applies to every client).
  test("a 503 armed over HTTP is what the SDK gets next, once", async () => {
    const armed = await serverApi("POST", "/emulator/faults", {
      operation: "track",
      fault: "503",
      times: 1,
    });
    assert.equal(armed.status, 200);
    await assert.rejects(authsignal.track({ userId: carol, action: "withdraw" }), (error) => {
      assert.ok(error instanceof AuthsignalError, `an AuthsignalError, not ${error}`);
      assert.equal(error.statusCode, 503);
      return true;
    });
    const tracked = await authsignal.track({ userId: carol, action: "withdraw" });
    assert.equal(tracked.state, "ALLOW", "answered normally again");
    const bad = await serverApi("POST", "/emulator/faults", { operation: "getUser", fault: "5O3" });
    assert.equal(bad.status, 400);
    assert.equal((await serverApi("DELETE", "/emulator/faults")).status, 200);
  });
});

describe("authentication and clean-up", () => {
  test("a client with a wrong secret gets 401 with the live API's message", async () => {
    const impostor = new Authsignal({ apiSecretKey: `wrong-${run}`, apiUrl, retries: 0 });
    await assert.rejects(impostor.getUser({ userId: alice }), (error) => {
      assert.ok(error instanceof AuthsignalError);
      assert.equal(error.statusCode, 401);
      assert.equal(error.errorCode, "unauthorized");
      assert.equal(error.errorDescription, UNAUTHORIZED);
      assert.equal(error.message, `AuthsignalError: 401 - ${UNAUTHORIZED}`);
      return true;
    });
    await rejectsWith(
      impostor.track({ userId: alice, action: "withdraw" }),
      401,
      "unauthorized",
      UNAUTHORIZED,
    );
  });

  test("deleteUser of an enrolled user removes their authenticators and actions", async () => {
    await authsignal.deleteUser({ userId: alice });
    const user = await authsignal.getUser({ userId: alice });
    assert.equal(user.isEnrolled, false);
    assert.deepEqual(await authsignal.getAuthenticators({ userId: alice }), []);
    assert.deepEqual(await authsignal.queryUserActions({ userId: alice }), []);
    const validation = await authsignal.validateChallenge({ token: state.withdrawProof });
    assert.equal(validation.isValid, false);
  });
});

describe("WhatsApp, email magic links and push", () => {
  const dave = `dave-${run}`;
  const davePhone = `+6427${run.replace(/[^0-9]/g, "").padEnd(7, "0").slice(0, 7)}`;
  const erin = `erin-${run}`;
  const erinEmail = `erin-${run}@example.com`;
  const frank = `frank-${run}`;

  /** The validation of `token` for `userId` and `action`. */
  async function validated(token, userId, action) {
    return authsignal.validateChallenge({ token, userId, action });
  }

  test("a WhatsApp code from the outbox validates with verificationMethod WHATSAPP", async () => {
    await authsignal.enrollVerifiedAuthenticator({
      userId: dave,
      attributes: { verificationMethod: "WHATSAPP", phoneNumber: davePhone },
    });
    const { token } = await authsignal.track({ userId: dave, action: "changePassword" });
    const sent = await clientApi("challenge/whatsapp", token);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    const message = (await outbox(davePhone)).body.at(-1);
    assert.equal(message.verificationMethod, "WHATSAPP");
    assert.equal(message.challengeId, sent.body.challengeId);
    const verified = await clientApi("verify/whatsapp", token, { verificationCode: message.code });
    assert.equal(verified.body.isVerified, true, JSON.stringify(verified.body));
    const validation = await validated(verified.body.accessToken, dave, "changePassword");
    assert.equal(validation.isValid, true);
    assert.equal(validation.state, "CHALLENGE_SUCCEEDED");
    assert.equal(validation.verificationMethod, "WHATSAPP");
  });

  test("a followed magic link, finalized, validates with verificationMethod EMAIL_MAGIC_LINK", async () => {
    const { token } = await authsignal.track({ userId: erin, action: "signIn" });
    const enrolled = await clientApi("user-authenticators/email-magic-link", token, {
      email: erinEmail,
    });
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    const waiting = await clientApi("verify/email-magic-link/finalize", token);
    assert.deepEqual(waiting.body, { isVerified: false });
    const message = (await outbox(erinEmail)).body.at(-1);
    assert.equal(message.verificationMethod, "EMAIL_MAGIC_LINK");
    assert.equal(message.code, undefined, "a link carries no code");
    assert.equal((await fetch(message.link)).status, 200);
    assert.equal((await fetch(message.link)).status, 400, "a link is followed once");
    const verified = await clientApi("verify/email-magic-link/finalize", token);
    assert.equal(verified.body.isVerified, true, JSON.stringify(verified.body));
    assert.equal(verified.body.userAuthenticator.verificationMethod, "EMAIL_MAGIC_LINK");
    const validation = await validated(verified.body.accessToken, erin, "signIn");
    assert.equal(validation.isValid, true);
    assert.equal(validation.verificationMethod, "EMAIL_MAGIC_LINK");
  });

  test("an approved push validates with verificationMethod PUSH; a denied one fails", async () => {
    const enrolled = await serverApi("POST", "/emulator/push-authenticators", { userId: frank });
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    const approve = async (approve) => {
      const tracked = await authsignal.track({ userId: frank, action: "changePassword" });
      const sent = await clientApi("challenge/push", tracked.token, { action: "changePassword" });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const { challengeId } = sent.body;
      const pending = await serverApi("GET", "/emulator/push");
      assert.ok(pending.body.some((push) => push.challengeId === challengeId && push.userId === frank));
      const waiting = await clientApi("verify/push", tracked.token, { challengeId });
      assert.deepEqual(waiting.body, { isVerified: false, isConsumed: false });
      const answered = await serverApi("POST", `/emulator/push/${challengeId}`, { approve });
      assert.deepEqual(answered.body, { answered: true });
      const verified = await clientApi("verify/push", tracked.token, { challengeId });
      return { tracked, verified: verified.body };
    };
    const { verified } = await approve(true);
    assert.equal(verified.isVerified, true);
    assert.equal(verified.isConsumed, true);
    const validation = await validated(verified.accessToken, frank, "changePassword");
    assert.equal(validation.isValid, true);
    assert.equal(validation.verificationMethod, "PUSH");

    const denied = await approve(false);
    assert.deepEqual(denied.verified, { isVerified: false, isConsumed: true });
    const action = await authsignal.getAction({
      userId: frank,
      action: "changePassword",
      idempotencyKey: denied.tracked.idempotencyKey,
    });
    assert.equal(action.state, "CHALLENGE_FAILED");
  });

  test("SMS sends are rate-limited: the 7th in 10 minutes is 429 too_many_requests", async () => {
    const phoneNumber = `+6428${run.replace(/[^0-9]/g, "").padEnd(7, "1").slice(0, 7)}`;
    for (let sent = 0; sent < 6; sent++) {
      await authsignal.challenge({ verificationMethod: "SMS", phoneNumber, action: "smsSignIn" });
    }
    await rejectsWith(
      authsignal.challenge({ verificationMethod: "SMS", phoneNumber, action: "smsSignIn" }),
      429,
      "too_many_requests",
    );
    assert.equal((await outbox(phoneNumber)).body.length, 6);
  });

  test("a refused sms.created fails the challenge with webhook_failed, and nothing is sent", async (t) => {
    if (!webhookPort) {
      t.skip("WEBHOOK_PORT is not set (tests/node/run.sh sets it)");
      return;
    }
    const phoneNumber = `+6429${run.replace(/[^0-9]/g, "").padEnd(7, "2").slice(0, 7)}`;
    refusing.add("sms.created");
    try {
      await rejectsWith(
        authsignal.challenge({ verificationMethod: "SMS", phoneNumber, action: "smsSignIn" }),
        400,
        "webhook_failed",
      );
    } finally {
      refusing.delete("sms.created");
    }
    assert.deepEqual((await outbox(phoneNumber)).body, []);
    await authsignal.challenge({ verificationMethod: "SMS", phoneNumber, action: "smsSignIn" });
    assert.equal((await outbox(phoneNumber)).body.length, 1);
  });

  test("action.verify gates success, and verifies with the SDK's constructEvent", async (t) => {
    if (!webhookPort) {
      t.skip("WEBHOOK_PORT is not set (tests/node/run.sh sets it)");
      return;
    }
    const tracked = await authsignal.track({ userId: dave, action: "approvePayee" });
    await clientApi("challenge/whatsapp", tracked.token);
    const { code } = (await outbox(davePhone)).body.at(-1);
    refusing.add("action.verify");
    try {
      const refused = await clientApi("verify/whatsapp", tracked.token, { verificationCode: code });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.errorCode, "webhook_failed");
    } finally {
      refusing.delete("action.verify");
    }
    const verified = await clientApi("verify/whatsapp", tracked.token, { verificationCode: code });
    assert.equal(verified.body.isVerified, true, JSON.stringify(verified.body));
    const asked = webhooks.filter(({ path }) => path === "/webhooks/action-verify");
    assert.equal(asked.length, 2, "asked once per try");
    for (const { signature, body } of asked) {
      const event = authsignal.webhook.constructEvent(body, signature);
      assert.equal(event.type, "action.verify");
      assert.equal(event.data.userId, dave);
      assert.equal(event.data.action, "approvePayee");
      assert.equal(event.data.idempotencyKey, tracked.idempotencyKey);
      assert.equal(event.data.state, "CHALLENGE_SUCCEEDED");
      assert.equal(event.data.verificationMethod, "WHATSAPP");
      isoDate(event.data.verifiedAt);
    }
  });
});

describe("webhooks", () => {
  test("the emulator's events verify with the SDK's webhook.constructEvent", async (t) => {
    if (!webhookPort) {
      t.skip("WEBHOOK_PORT is not set (tests/node/run.sh sets it)");
      return;
    }
    // Deliveries are asynchronous: wait (a generous bound, not a measure) for the last
    // clean-up's authenticator.deleted.
    const types = () =>
      webhooks.flatMap(({ body }) => {
        const payload = JSON.parse(body);
        return payload.records ? payload.records.map((record) => record.type) : [payload.type];
      });
    for (let waited = 0; !types().includes("authenticator.deleted") && waited < 100; waited++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(webhooks.length > 0, "no webhook arrived");
    for (const { signature, body } of webhooks) {
      const event = authsignal.webhook.constructEvent(body, signature);
      assert.equal(event.source ?? event.records?.[0]?.source, "https://authsignal.com");
    }
    const seen = new Set(types());
    for (const type of [
      "authenticator.created",
      "authenticator.deleted",
      "sms.created",
      "email.created",
      "push.created",
      "action.log_created",
      "challenge.log_created",
    ]) {
      assert.ok(seen.has(type), `no ${type} among ${[...seen].join(", ")}`);
    }
    // The SDK refuses a body that is not the signed one.
    const { signature, body } = webhooks[0];
    assert.throws(() => authsignal.webhook.constructEvent(`${body} `, signature), /Signature mismatch/);
  });
});
