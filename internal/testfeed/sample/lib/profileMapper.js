'use strict';
// Default profile mapper, shaped like the one the Auth0 AD/LDAP Connector
// ships. Customers edit this file; adldapctl must keep it byte for byte across
// installs, upgrades and rollbacks.
module.exports = function (raw) {
  const profile = {
    id: raw.objectGUID || raw.uid || raw.cn,
    displayName: raw.displayName,
    name: {
      familyName: raw.sn,
      givenName: raw.givenName
    },
    nickname: raw.sAMAccountName || raw.cn || raw.commonName,
    groups: raw.groups,
    emails: raw.mail ? [{ value: raw.mail }] : undefined
  };
  profile.dn = raw.dn;
  profile.st = raw.st;
  profile.description = raw.description;
  profile.postalCode = raw.postalCode;
  profile.telephoneNumber = raw.telephoneNumber;
  profile.distinguishedName = raw.distinguishedName;
  return profile;
};
