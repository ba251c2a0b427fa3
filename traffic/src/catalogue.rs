//! The event catalogue of the seed document: every actionName, grouped by the
//! event codes (actionParameters) such an event plausibly carries.

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

/// Authentication type codes (`ATC`).
pub const AUTHENTICATION_TYPES: &[&str] =
    &["AT_STDPWD", "AT_SYSLOG", "AT_EMPOOB", "AT_OTP", "AT_PUSH", "AT_FIDO", "AT_SMSOTP"];

/// Channel codes (`CHC`).
pub const CHANNELS: &[&str] = &["CH_EXTRAPP", "OPERATOR", "CH_DIRECT", "CH_SELFSERVICE"];

/// Every actionName of the seed.
pub fn all_action_names() -> impl Iterator<Item = &'static str> {
    [AUTHENTICATION, USER, DEVICE, AUTHENTICATOR, ORGANIZATION].into_iter().flatten().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_every_seed_action_once() {
        let names: Vec<&str> = all_action_names().collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(names.len(), unique.len());
        assert_eq!(names.len(), 53);
    }
}
