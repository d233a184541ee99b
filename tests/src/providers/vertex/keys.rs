//! A test-only RSA key pair (2048 bits) for the mock's service account, made with
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` for these tests and used
//! nowhere else: the private key goes into the service account key file the gateway holds, the
//! public key is what the mock token endpoint verifies assertions with. A second private key,
//! which the mock does not know, signs assertions it must refuse.

/// The service account's private key, PKCS#8 PEM as Google's key files hold it.
pub const PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCs0IdCLuAIN7UF\n\
t14kLeVOuVcYB9jEJGNbySqb6G2h6t/x1FZGaFjTTFPv3qvjenKY9PZYdAw16M78\n\
bxaLTLPdHGves742xFoSdyVSMe4yg+LdbKrofMSp1+ahcaDutIFogeAr19wxV1wQ\n\
3Og9xo5jDMSN/RZk9Hv+LeULmJ7Ae6enwK/aYi2vxk6eawKXynMGNtOIu2j1Io62\n\
ALxa+2Nwv5f4rXNLMo8QL33p68YABULq0eXxUwY3WPEL2XR4A53CA+pQOSbUxSde\n\
th9V4fmnbUKKYbbP27UeZ8YKajbUaG++mNq1a2/BSIksOKJ0m0vGpYvXxTLJcuy9\n\
sfGsWOVnAgMBAAECggEARzVLrqE7DhfKPxc+MuE4fhZPxWaiUrv9tvnu1TxSRGhQ\n\
K8kHXc6sXzCx24KgyESRyOYTRgJXb7VE6O5rVy3dZUxLRIJC7DU/OiGfHr3VPTpr\n\
9jpLOC4FKUj9zuNP4Vw+gI4XjWlOYYRyOr6T8bSJwlWl/i3dlu7I0sUdfog+TehY\n\
U1SsaT4QEhWg+uYFu1HpgC6qAG8LXyof4TKjKYjEZf2sQb/tulPZRlShMfA4WsgE\n\
YBQpFRbwn3NKV0vRTbtvI1lfmngxNOAQniy6g1j5/ZxgAkzS8eSofz2VbPEfnlCA\n\
S/sLSAgBrsKs2FB/EkNoWxkrjH/51exTOQ76KBVC/QKBgQDftgOQsMmFg53PkZrm\n\
GckCCNSO5ACuWpPmafphdTHd1iv9cplpeh9UnCuCYy61IlC1kCclHyx8XnYOPnRo\n\
mKlAuu7J2PJ3+lUCOCqzrAtrs6X96/yQZZek0IAfJg4D4YccyQMRQp4bbBKSlWju\n\
0um7ML8RKwWn0K7/pKg9sibZ8wKBgQDFwewRkudvyhT8bR1PRJ9XHkSgorDX3cA2\n\
krFNfwLycKuE4IsQPxMNTuXdWK5lz4i3MpJIt7hpxeOt83gfrO6PJmPJaKLm3o8r\n\
DK4etajeHkOLLkOA6bU8XPVNKOd0FfMu4ju/wl+mUTdjkywsqe6Nd3Nbzn8V+MS/\n\
4TkcJ/hPvQKBgQDc/mxVMh9RkqyB0X/okU5dgSWhpqD5nCcA9m5OejxxvdIlBGGC\n\
rg5nQgNFQf9xFl4OjkHtTPdgQNx0w8OxVCXW+RNNONCGLzhtAdlFNs7tbUGsLsSI\n\
TKPaP9JhcvFjahZUHEq4cUvJISDTx18qlhYpQkVti0eB+Qf3KMy+bdAtewKBgDai\n\
fs/UIDCYSff7RU+zC7qL2DXw/J6G2yW4nVdlsbC9RAWv63uPkXnpxEPEzlm+Xm0O\n\
ga+pYj+GtoJGc3d81WOjHYp1aBwUfMVN+YTudzr2bX60R14EM1f77qFknZ1KuybG\n\
xe8Sik5uvbi63kdwo0FeMPa6NA4j7md8l8SZnlaZAoGATpk2gkKmq4ajL3A2ycOP\n\
7Bh8nIguoPvrJ3oH2qDyM9X0GaQWVk/9pWOb0PUE6iy8RvQwduv5PgzYBz6n87lI\n\
hqvFrn7DoRMv0Rlf1wU3u0IjQMxgy+PCghaSK201d6cdM57MoBXTvtVfatVQfghP\n\
msVhLOsnlsM5EpRQoLW3KoU=\n\
-----END PRIVATE KEY-----\n";

/// The public half of [`PRIVATE_KEY`], as PEM (SubjectPublicKeyInfo).
pub const PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArNCHQi7gCDe1BbdeJC3l\n\
TrlXGAfYxCRjW8kqm+htoerf8dRWRmhY00xT796r43pymPT2WHQMNejO/G8Wi0yz\n\
3Rxr3rO+NsRaEnclUjHuMoPi3Wyq6HzEqdfmoXGg7rSBaIHgK9fcMVdcENzoPcaO\n\
YwzEjf0WZPR7/i3lC5iewHunp8Cv2mItr8ZOnmsCl8pzBjbTiLto9SKOtgC8Wvtj\n\
cL+X+K1zSzKPEC996evGAAVC6tHl8VMGN1jxC9l0eAOdwgPqUDkm1MUnXrYfVeH5\n\
p21CimG2z9u1HmfGCmo21GhvvpjatWtvwUiJLDiidJtLxqWL18UyyXLsvbHxrFjl\n\
ZwIDAQAB\n\
-----END PUBLIC KEY-----\n";

/// A key of the same shape that the mock's account does not have.
pub const OTHER_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCMNrOjno2/DcRK\n\
kcdxyRSsVTnJHvisZBy74UnlauqP2WABCpDKyNnNkjofUvi+lemp8nWLgg9qzPYE\n\
/hFYqW329Eet3/zj45SVg/q1+jtsPjYiHbJrruRNVuofiqTNslbfutuQyGBqWuvg\n\
iT37KT3OgZST3IOsFAujuG6e+ZMD2+/KfJH2XVUFyxrtfEn1Z2Abk5rqEGGaUjgT\n\
DKHIBoVvFEREFQ40INr2AgYhznJCy3cnKjWe3VkzSOv3b1EvCynio+MUTM8tHGw/\n\
qvk4Gn9RilLodnHUr9BGcyC0rFIo7miEpZwvawA57W+/uLPXRBHJvpGe86aUTND7\n\
e6LchyMhAgMBAAECggEAJ8I1Ix7JE9VcBUccFmxN4+YQyjJxkjSbHz1tXlP4akzZ\n\
18G+t/nHJO8jcxFsfmJ1DR827JW3OHIhCt5eXdVBXMb88lVy2M4GKnVvqJ1przJe\n\
2EKyfq1riHCuV75RKBC7aJqMOxxOlqnse9F+1VLm90EwN9NONQPEHysjlwmvAec2\n\
prBtDJ27EeBOOg8eb9FftmK7qxMdRksm1Kss6hJ5IKSCPN390nB88noSBkdo41W1\n\
NU3HJ4i08BLBpREZ6ASQ1AzZ3CBbxDv4kwRSgY1ZOEwCcBaE+Kn+T5HpBCMSR1+i\n\
XgZiO5Xc2czLidUJYIOTx5UXFCb2qUbY1L4dw5EBnwKBgQDFuxd5EGzYBitpDedO\n\
ujUhSoXo9g2R9ArCd2JxOChStiSQ1AADfIYk/KYZeL6s4hsVEA6CJhpmnC04NXkv\n\
seRSjMrhnIcWIy+uFyBqxsYHiBZWifkz7zoAMU3fLGyFUER029r26nBPsXsJLTjL\n\
07Qp2F4gRFVzUwdZMwPmHv1ylwKBgQC1iH0h67GbUTnEbJW5rj1LBK20oNfqccf2\n\
xWlvoWRkF8CYwY4gmAo/Pft3nhjaj7CzDLb0Dfs8QHMiH7HNzNLaYpLsXSXblHhg\n\
I7+s0BhAMXhNHuT8R8OJEziFIritBnuguIUaPTAT+i0+AE3s4gaiaHSRGoFl20a4\n\
UiDuCnwnBwKBgQCU1Tjb5aMoD6zJTK/ZMIwhXOji66JXRCx9KEOvGSgw6e0oHotM\n\
FIUcfhfAgIR1uVPNTOK+0FN6/P+Emat4XRyRjmx/2cRMw3t2PO4nsSsKLEM0LHKp\n\
xt4Pmw0UeWnOBxcgJwTwapLTSbJku+dOdTHddYGUJBt1zP9xAtdidd0sTQKBgGQT\n\
5PhoWbfIpdI2Eq0U89GBuMnVynMDWzweRSw3i4Lq3VDZlCM/7pZC83lUfVsw0DdF\n\
kS8m7hSfa1mqo3lTrAKdSWZpS8+sIFjQHIGHD3eETlAl8hNq9M+C+yvaonkxE8Ld\n\
NvPqO7EnwP1naY5oZUPv1iOQuzmOE4TWMjVJLnzNAoGAFlve0gkXdIaUE0urSV76\n\
8u1xn8qBkdThK8GqVKoUKEtiIPD6ar2e8dyRCIT5OwVGcxk8lt3q4R90jgrjgk0D\n\
7e/rhhayBoaJpBlNhn6RfQZfFH7LgMvMqvpgSbEHbTed9dexEU0DOWp0+SZ/S6Jy\n\
+ljM+ODiMzb30HFkrUIg7X8=\n\
-----END PRIVATE KEY-----\n";
