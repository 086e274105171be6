/* OpenSSL's libssl, opened with dlopen at the first TLS context rather than
 * linked: linking it (and libcrypto) doubles the start-up time of every
 * script, TLS or not. The functions ebb calls are reached through
 * tls_lib_fns; the macros below let the code call them by their own names,
 * OpenSSL's header macros included (SSL_CTX_set_min_proto_version is a call
 * of SSL_CTX_ctrl). Include this header only from the TLS bindings. */
#ifndef EBB_TLS_LIB_H
#define EBB_TLS_LIB_H

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TLS_LIB_FUNCTIONS(X) \
  X(TLS_client_method) X(TLS_server_method) X(SSL_CTX_new) X(SSL_CTX_free) X(SSL_CTX_ctrl) \
  X(SSL_CTX_set_verify) X(SSL_CTX_set1_cert_store) X(SSL_CTX_get_cert_store) X(X509_STORE_new) \
  X(X509_STORE_load_path) X(X509_STORE_load_file) X(X509_get_default_cert_dir) X(X509_get_default_cert_dir_env) \
  X(X509_get_default_cert_file_env) \
  X(SSL_CTX_set_alpn_protos) X(SSL_CTX_set_alpn_select_cb) X(SSL_CTX_use_certificate) \
  X(SSL_CTX_use_PrivateKey) X(SSL_CTX_check_private_key) X(SSL_CTX_set_options) \
  X(SSL_select_next_proto) X(SSL_new) X(SSL_free) X(SSL_set_bio) X(SSL_set_connect_state) \
  X(SSL_set_accept_state) X(SSL_do_handshake) X(SSL_read) X(SSL_write) X(SSL_shutdown) \
  X(SSL_get_error) X(SSL_ctrl) X(SSL_set1_host) X(SSL_get_verify_result) \
  X(SSL_get0_alpn_selected) X(SSL_get_servername) X(SSL_get_version) X(SSL_get_current_cipher) \
  X(SSL_CIPHER_get_name) X(SSL_get_shutdown) \
  X(X509_STORE_add_cert) X(X509_free) X(X509_verify_cert_error_string) X(PEM_read_bio_X509) \
  X(PEM_read_bio_PrivateKey) X(EVP_PKEY_free) X(BIO_new_mem_buf) X(BIO_free) X(BIO_new) \
  X(BIO_meth_new) X(BIO_meth_set_write) X(BIO_meth_set_read) X(BIO_meth_set_ctrl) \
  X(BIO_get_new_index) X(BIO_set_data) X(BIO_get_data) X(BIO_set_init) X(BIO_set_flags) \
  X(BIO_clear_flags) X(ERR_get_error) X(ERR_peek_last_error) X(ERR_clear_error) \
  X(ERR_reason_error_string) X(ERR_lib_error_string)

typedef struct tls_lib {
#define TLS_LIB_FIELD(name) __typeof__(&name) name;
  TLS_LIB_FUNCTIONS(TLS_LIB_FIELD)
#undef TLS_LIB_FIELD
} tls_lib;

extern tls_lib tls_lib_fns;

/* Opens libssl once: 1, or 0 with *why saying why it cannot be used. */
int tls_lib_open(const char **why);

#define TLS_client_method (tls_lib_fns.TLS_client_method)
#define TLS_server_method (tls_lib_fns.TLS_server_method)
#define SSL_CTX_new (tls_lib_fns.SSL_CTX_new)
#define SSL_CTX_free (tls_lib_fns.SSL_CTX_free)
#define SSL_CTX_ctrl (tls_lib_fns.SSL_CTX_ctrl)
#define SSL_CTX_set_verify (tls_lib_fns.SSL_CTX_set_verify)
#define SSL_CTX_set1_cert_store (tls_lib_fns.SSL_CTX_set1_cert_store)
#define X509_STORE_new (tls_lib_fns.X509_STORE_new)
#define X509_STORE_load_path (tls_lib_fns.X509_STORE_load_path)
#define X509_STORE_load_file (tls_lib_fns.X509_STORE_load_file)
#define X509_get_default_cert_dir (tls_lib_fns.X509_get_default_cert_dir)
#define X509_get_default_cert_dir_env (tls_lib_fns.X509_get_default_cert_dir_env)
#define X509_get_default_cert_file_env (tls_lib_fns.X509_get_default_cert_file_env)
#define SSL_CTX_get_cert_store (tls_lib_fns.SSL_CTX_get_cert_store)
#define SSL_CTX_set_alpn_protos (tls_lib_fns.SSL_CTX_set_alpn_protos)
#define SSL_CTX_set_alpn_select_cb (tls_lib_fns.SSL_CTX_set_alpn_select_cb)
#define SSL_CTX_use_certificate (tls_lib_fns.SSL_CTX_use_certificate)
#define SSL_CTX_use_PrivateKey (tls_lib_fns.SSL_CTX_use_PrivateKey)
#define SSL_CTX_check_private_key (tls_lib_fns.SSL_CTX_check_private_key)
#define SSL_CTX_set_options (tls_lib_fns.SSL_CTX_set_options)
#define SSL_select_next_proto (tls_lib_fns.SSL_select_next_proto)
#define SSL_new (tls_lib_fns.SSL_new)
#define SSL_free (tls_lib_fns.SSL_free)
#define SSL_set_bio (tls_lib_fns.SSL_set_bio)
#define SSL_set_connect_state (tls_lib_fns.SSL_set_connect_state)
#define SSL_set_accept_state (tls_lib_fns.SSL_set_accept_state)
#define SSL_do_handshake (tls_lib_fns.SSL_do_handshake)
#define SSL_read (tls_lib_fns.SSL_read)
#define SSL_write (tls_lib_fns.SSL_write)
#define SSL_shutdown (tls_lib_fns.SSL_shutdown)
#define SSL_get_error (tls_lib_fns.SSL_get_error)
#define SSL_ctrl (tls_lib_fns.SSL_ctrl)
#define SSL_set1_host (tls_lib_fns.SSL_set1_host)
#define SSL_get_verify_result (tls_lib_fns.SSL_get_verify_result)
#define SSL_get0_alpn_selected (tls_lib_fns.SSL_get0_alpn_selected)
#define SSL_get_servername (tls_lib_fns.SSL_get_servername)
#define SSL_get_version (tls_lib_fns.SSL_get_version)
#define SSL_get_current_cipher (tls_lib_fns.SSL_get_current_cipher)
#define SSL_CIPHER_get_name (tls_lib_fns.SSL_CIPHER_get_name)
#define SSL_get_shutdown (tls_lib_fns.SSL_get_shutdown)
#define X509_STORE_add_cert (tls_lib_fns.X509_STORE_add_cert)
#define X509_free (tls_lib_fns.X509_free)
#define X509_verify_cert_error_string (tls_lib_fns.X509_verify_cert_error_string)
#define PEM_read_bio_X509 (tls_lib_fns.PEM_read_bio_X509)
#define PEM_read_bio_PrivateKey (tls_lib_fns.PEM_read_bio_PrivateKey)
#define EVP_PKEY_free (tls_lib_fns.EVP_PKEY_free)
#define BIO_new_mem_buf (tls_lib_fns.BIO_new_mem_buf)
#define BIO_free (tls_lib_fns.BIO_free)
#define BIO_new (tls_lib_fns.BIO_new)
#define BIO_meth_new (tls_lib_fns.BIO_meth_new)
#define BIO_meth_set_write (tls_lib_fns.BIO_meth_set_write)
#define BIO_meth_set_read (tls_lib_fns.BIO_meth_set_read)
#define BIO_meth_set_ctrl (tls_lib_fns.BIO_meth_set_ctrl)
#define BIO_get_new_index (tls_lib_fns.BIO_get_new_index)
#define BIO_set_data (tls_lib_fns.BIO_set_data)
#define BIO_get_data (tls_lib_fns.BIO_get_data)
#define BIO_set_init (tls_lib_fns.BIO_set_init)
#define BIO_set_flags (tls_lib_fns.BIO_set_flags)
#define BIO_clear_flags (tls_lib_fns.BIO_clear_flags)
#define ERR_get_error (tls_lib_fns.ERR_get_error)
#define ERR_peek_last_error (tls_lib_fns.ERR_peek_last_error)
#define ERR_clear_error (tls_lib_fns.ERR_clear_error)
#define ERR_reason_error_string (tls_lib_fns.ERR_reason_error_string)
#define ERR_lib_error_string (tls_lib_fns.ERR_lib_error_string)

#endif
