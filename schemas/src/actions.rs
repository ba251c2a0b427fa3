//! The catalogue of event types (`action.actionName`): the seed document's, grouped
//! by what such an event is about, and the trail's own (accesses to clear values,
//! changes to webhooks). Producers may send other names; consumers that let users
//! choose event types (webhooks) offer these.

/// Authentication events: carry a client context and the caller's address in `ARP`.
pub const AUTHENTICATION: &[&str] = &[
    "indirectPrimaryAuthenticateUP",
    "primaryAuthenticateUP",
    "indirectPrimaryAuthenticateDevice",
    "primaryAuthenticateDevice",
    "indirectDeliverChallenge",
    "logout",
];

/// User lifecycle and attribute events.
pub const USER: &[&str] = &[
    "createUser",
    "deleteUser",
    "deleteUsers",
    "changeUserPassword",
    "updateUserAttributes",
    "updateUserExternalReference",
    "updateUserStatus",
    "addRoleToUser",
    "moveUserToSubGroup",
    "registerUserForOutOfBand",
    "unregisterUserForOutOfBand",
    "resetActivationCode",
    "resetOOBCounter",
];

/// Device and credential events.
pub const DEVICE: &[&str] = &[
    "addDevice",
    "assignDeviceToUser",
    "unassignDevice",
    "updateDevice",
    "deleteDevices",
    "importDevices",
    "synchroniseDeviceAuto",
    "synchroniseDeviceManual",
    "addCredentialToDevice",
    "createCredential",
    "deleteCredential",
    "createDeviceIssuanceRequest",
    "updateDeviceIssuanceRequest",
    "deleteDeviceIssuanceRequests",
];

/// Authenticator and policy events.
pub const AUTHENTICATOR: &[&str] = &[
    "createAuthenticationType",
    "createAuthenticator",
    "createUPAuthenticator",
    "deleteAuthenticators",
    "resetAuthenticatorFailedAuthenticationCount",
    "updateAuthenticatorValidPeriod",
    "updateUPAuthenticatorValidPeriod",
    "updateAuthenticatorStatus",
];

/// Organization events: groups, roles, data sources, channels.
pub const ORGANIZATION: &[&str] = &[
    "createUserGroup",
    "createUserSubGroup",
    "deleteUserGroup",
    "deleteUserSubGroup",
    "moveUserSubGroup",
    "updateUserGroupDetails",
    "updateUserSubGroupDetails",
    "createRole",
    "deleteRole",
    "createDatasource",
    "deleteDatasource",
    "deleteChannel",
];

/// Events the trail itself records: reveals and erasures in the vault, changes to
/// webhooks in the notifier.
pub const TRAIL: &[&str] = &[
    "detokenizeTokens",
    "eraseDataSubject",
    "createWebhook",
    "updateWebhook",
    "deleteWebhook",
    "rotateWebhookSecret",
];

/// Every actionName of the seed document.
pub fn seed_action_names() -> impl Iterator<Item = &'static str> {
    [AUTHENTICATION, USER, DEVICE, AUTHENTICATOR, ORGANIZATION].into_iter().flatten().copied()
}

/// Whether `name` is in the catalogue: the seed's events or the trail's own.
pub fn is_known(name: &str) -> bool {
    seed_action_names().chain(TRAIL.iter().copied()).any(|known| known == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_every_seed_action_once() {
        let names: Vec<&str> = seed_action_names().chain(TRAIL.iter().copied()).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(names.len(), unique.len());
        assert_eq!(seed_action_names().count(), 53);
        assert!(is_known("createUser") && is_known("detokenizeTokens") && !is_known("createuser"));
    }
}
