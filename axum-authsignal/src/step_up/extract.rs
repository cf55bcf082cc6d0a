//! The extractors: [`StepUp`] (the gate's proof, or a [`StepUpValidator`]'s check of a
//! token) and [`SignedIn`] (sign-in's callback), and their `Option` forms.

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use super::action::ExpectedAction;
use super::answer::Refusal;
use super::negotiate::ClientKind;
use super::proof::{Proof, StepUp};
use super::rejection::StepUpRejection;
use super::respond::{Audience, Responder};
use super::signin::{SignIn, SignedIn};
use super::validator::StepUpValidator;

impl<S: Send + Sync, A: ExpectedAction> FromRequestParts<S> for StepUp<A> {
    type Rejection = StepUpRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let proof = match parts.extensions.get::<Proof>() {
            Some(proof) => proof.clone(),
            None => match parts.extensions.get::<StepUpValidator>().cloned() {
                Some(validator) => validator.validate(parts).await?,
                None => {
                    let audience = Audience::of(ClientKind::Auto, &parts.headers);
                    return Err(StepUpRejection::new(
                        Refusal::MissingLayer,
                        audience,
                        Responder::default(),
                    ));
                }
            },
        };
        if let Some(expected) = A::expected()
            && proof.action().as_str() != expected
        {
            tracing::error!(
                expected,
                found = proof.action().as_str(),
                "a handler asks for another action's step-up proof"
            );
            let audience = Audience::of(ClientKind::Auto, &parts.headers);
            let refusal = Refusal::WrongAction {
                expected,
                found: proof.action().as_str().to_owned(),
            };
            return Err(StepUpRejection::new(
                refusal,
                audience,
                Responder::default(),
            ));
        }
        Ok(StepUp::from_proof(proof))
    }
}

/// `Option<StepUp>`: `None` when no layer ran and no token came; a token that is given
/// must still be valid.
impl<S: Send + Sync, A: ExpectedAction> OptionalFromRequestParts<S> for StepUp<A> {
    type Rejection = StepUpRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match <StepUp<A> as FromRequestParts<S>>::from_request_parts(parts, state).await {
            Ok(proof) => Ok(Some(proof)),
            Err(rejection)
                if matches!(
                    rejection.refusal(),
                    Refusal::MissingLayer | Refusal::TokenRequired
                ) =>
            {
                Ok(None)
            }
            Err(rejection) => Err(rejection),
        }
    }
}

/// Sign-in's callback: the token validated, for the user Authsignal names, in the browser
/// that started the sign-in. Needs [`SignIn`] in the router state.
impl<S> FromRequestParts<S> for SignedIn
where
    S: Send + Sync,
    SignIn: FromRef<S>,
{
    type Rejection = StepUpRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        SignIn::from_ref(state).complete(parts).await
    }
}
