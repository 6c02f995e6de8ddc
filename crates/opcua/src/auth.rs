//! Identity: UserName tokens checked against the station's users (the same argon2
//! hashes, policy and lockout as the touch screen, audited by the station); anonymous
//! only when `anonymous_read`, and then read-only.

use crate::nodes::Users;
use crate::port::{OpcuaAction, OpcuaAudit, Station};
use opcua::server::ServerEndpoint;
use opcua::server::address_space::AccessLevel;
use opcua::server::authenticator::{
    AuthManager, Password, UserToken, user_pass_security_policy_id, user_pass_security_policy_uri,
};
use opcua::types::{Error, NodeId, StatusCode, UAString, UserTokenPolicy, UserTokenType};
use std::sync::Arc;

pub(crate) struct StationAuth<S: Station> {
    pub station: Arc<S>,
    pub anonymous_read: bool,
    pub users: Users,
}

#[async_trait::async_trait]
impl<S: Station> AuthManager for StationAuth<S> {
    async fn authenticate_anonymous_token(&self, endpoint: &ServerEndpoint) -> Result<(), Error> {
        if self.anonymous_read {
            return Ok(());
        }
        tracing::warn!(endpoint = %endpoint.path, "OPC UA: anonymous session refused");
        self.station.audit(OpcuaAudit {
            user: "anonymous".into(),
            role: None,
            action: OpcuaAction::Refused,
            object: "opcua:session".into(),
            client: String::new(),
            detail: "anonymous sessions are off (anonymous_read = false)".into(),
        });
        Err(Error::new(
            StatusCode::BadIdentityTokenRejected,
            "anonymous sessions are not allowed on this station",
        ))
    }

    async fn authenticate_username_identity_token(
        &self,
        _endpoint: &ServerEndpoint,
        username: &str,
        password: &Password,
    ) -> Result<UserToken, Error> {
        match self.station.sign_in(username, password.get()).await {
            Ok(user) => {
                let token = UserToken(user.badge.clone());
                if let Ok(mut u) = self.users.lock() {
                    u.insert(user.badge.clone(), user);
                }
                Ok(token)
            }
            Err(why) => {
                tracing::warn!(user = username, "OPC UA: sign-in refused: {why}");
                Err(Error::new(
                    StatusCode::BadUserAccessDenied,
                    "wrong user name or secret, or the user is locked",
                ))
            }
        }
    }

    fn effective_user_access_level(
        &self,
        token: &UserToken,
        level: AccessLevel,
        _node_id: &NodeId,
    ) -> AccessLevel {
        if token.is_anonymous() {
            level & (AccessLevel::CURRENT_READ | AccessLevel::HISTORY_READ)
        } else {
            level
        }
    }

    fn is_user_executable(&self, _token: &UserToken, _method_id: &NodeId) -> bool {
        // Checked (and audited) when the method is called.
        true
    }

    fn user_token_policies(&self, endpoint: &ServerEndpoint) -> Vec<UserTokenPolicy> {
        let mut out = vec![UserTokenPolicy {
            policy_id: user_pass_security_policy_id(endpoint),
            token_type: UserTokenType::UserName,
            issued_token_type: UAString::null(),
            issuer_endpoint_url: UAString::null(),
            security_policy_uri: user_pass_security_policy_uri(endpoint),
        }];
        if self.anonymous_read {
            out.push(UserTokenPolicy {
                policy_id: UAString::from("anonymous"),
                token_type: UserTokenType::Anonymous,
                issued_token_type: UAString::null(),
                issuer_endpoint_url: UAString::null(),
                security_policy_uri: UAString::null(),
            });
        }
        out
    }
}
