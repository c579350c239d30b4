/**
 * A throwaway certificate authority and a server certificate for 127.0.0.1 and localhost, made
 * with openssl in a temporary folder (tests of HTTPS; nothing leaves the machine).
 */

/** PEM files of a test CA and a server certificate it signed. */
export interface TestCertificates {
  dir: string;
  caPem: string;
  certFile: string;
  keyFile: string;
  caFile: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (out.code !== 0) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Makes a CA and a P-256 server certificate valid for a day. */
export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await Deno.makeTempDir({ prefix: "epochnexus-tls-" });
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=epochnexus test CA",
  ]);
  await openssl(dir, [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "node.key",
    "-out",
    "node.csr",
    "-subj",
    "/CN=127.0.0.1",
  ]);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n" +
      "basicConstraints=CA:FALSE\n",
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "node.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "node.pem",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  ]);
  return {
    dir,
    caPem: await Deno.readTextFile(`${dir}/ca.pem`),
    certFile: `${dir}/node.pem`,
    keyFile: `${dir}/node.key`,
    caFile: `${dir}/ca.pem`,
  };
}
