//! Finding the signed-in user of a request: from the [`UserId`] extension, a closure over
//! the request's parts, or any async `FromRequestParts` extractor of the app's own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;

/// The user id the app's own authentication layer puts into the request extensions; the
/// gate's default way of finding the user.
///
/// ```
/// use axum_authsignal::UserId;
/// # let mut request = http::Request::new(());
/// request.extensions_mut().insert(UserId("user-1".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(pub String);

type LookupFuture<'a> = Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>>;

/// How a gate finds the user: always async, whichever way it was configured.
#[derive(Clone)]
pub(crate) struct UserLookup(Arc<dyn for<'a> Fn(&'a mut Parts) -> LookupFuture<'a> + Send + Sync>);

impl UserLookup {
    /// From the [`UserId`] extension.
    pub(crate) fn extension() -> Self {
        Self::parts(|parts| parts.extensions.get::<UserId>().map(|user| user.0.clone()))
    }

    /// From a closure over the request's parts.
    pub(crate) fn parts(find: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(move |parts| {
            let found = find(parts);
            Box::pin(std::future::ready(found))
        }))
    }

    /// From an extractor: `E` is extracted (a rejection means no user), then `user_of` names
    /// the user it holds.
    pub(crate) fn extractor<E, F>(user_of: F) -> Self
    where
        E: FromRequestParts<()> + Send + 'static,
        F: Fn(E) -> Option<String> + Send + Sync + 'static,
    {
        let user_of = Arc::new(user_of);
        Self(Arc::new(move |parts| {
            let user_of = user_of.clone();
            Box::pin(async move {
                let extracted = E::from_request_parts(parts, &()).await.ok()?;
                user_of(extracted)
            })
        }))
    }

    /// The user of this request, if any. Ids that cannot name an Authsignal user (empty,
    /// `.` or `..`, which no URL path can carry as a segment) count as none.
    pub(crate) async fn find(&self, parts: &mut Parts) -> Option<String> {
        (self.0)(parts)
            .await
            .filter(|user| !matches!(user.as_str(), "" | "." | ".."))
    }
}
