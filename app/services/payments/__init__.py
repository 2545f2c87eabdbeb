"""Payments: the gateway interface (`gateway`), Alipay's RSA2 page pay and refunds (`alipay`),
signing (`signing`), the keys (`keys`) and applying notifications (`notifications`). Import
from the module that defines a name."""
