"""Applications for certificates (创建申报), their inspection, the public notice (公示) and the
objections lodged against it: an application becomes a certificate only through a notice that
ended without an upheld objection."""
