//! The `training` stage: candle trains the masked MLPs on MNIST with Adam and records loss and
//! accuracy histories (issue #6; METHOD.md section 5). Empty until then.
