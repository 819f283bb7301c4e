//! AMD Key Distribution Service URLs (KDS spec, pub. 57230).

use crate::report::{Product, RawTcb};

/// The KDS base URL.
pub const KDS_BASE: &str = "https://kdsintf.amd.com";

/// The URL of the VCEK for `chip_id` at `reported_tcb` (SPLs from `REPORTED_TCB`, decimal).
/// Turin uses the first 8 bytes of the chip id and adds `fmcSPL`.
pub fn vcek_url(product: Product, chip_id: &[u8; 64], reported_tcb: RawTcb) -> String {
    let tcb = reported_tcb.decode(product.tcb_layout());
    let id = crate::hex(&chip_id[..product.chip_id_len()]);
    let fmc = tcb.fmc.map(|f| format!("fmcSPL={f}&")).unwrap_or_default();
    format!(
        "{KDS_BASE}/vcek/v1/{}/{id}?{fmc}blSPL={}&teeSPL={}&snpSPL={}&ucodeSPL={}",
        product.kds_name(),
        tcb.bootloader,
        tcb.tee,
        tcb.snp,
        tcb.microcode
    )
}

/// The URL of the ASK+ARK (or ASVK+ARK when `vlek`) bundle of `product`.
pub fn cert_chain_url(product: Product, vlek: bool) -> String {
    format!("{KDS_BASE}/{}/v1/{}/cert_chain", if vlek { "vlek" } else { "vcek" }, product.kds_name())
}
