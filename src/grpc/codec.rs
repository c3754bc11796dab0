//! The protobuf codec of every service: prost's, except that a message that
//! cannot be decoded is the sender's error, not the server's. Prost reports
//! it as INTERNAL; here it is INVALID_ARGUMENT naming the field, so text
//! that is not valid UTF-8 is refused like any other bad field. Generated
//! clients share the codec, so a response that cannot be decoded reads the
//! same way on their side.

use std::marker::PhantomData;

use lienthong_domain::Error;
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic_prost::ProstCodec;

use super::status::to_status;

/// What prost's message for a decoding error starts with.
const DECODE_ERROR_PREFIX: &str = "failed to decode Protobuf message: ";

#[derive(Debug, Clone)]
pub struct LienthongCodec<T, U> {
    prost: ProstCodec<T, U>,
}

impl<T, U> Default for LienthongCodec<T, U> {
    fn default() -> Self {
        Self {
            prost: ProstCodec::default(),
        }
    }
}

impl<T, U> Codec for LienthongCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = <ProstCodec<T, U> as Codec>::Encoder;
    type Decoder = FieldReportingDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.prost.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        FieldReportingDecoder(PhantomData)
    }
}

#[derive(Debug)]
pub struct FieldReportingDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for FieldReportingDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buffer: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buffer)
            .map(Some)
            .map_err(|error| to_status(undecodable(&error.to_string())))
    }
}

/// The field a prost decoding error names, as a path from the top message
/// ("matched.text"), and what is wrong with it. Prost writes the fields
/// innermost first, `Message.field: ` each, before the description.
fn undecodable(message: &str) -> Error {
    let mut rest = message.strip_prefix(DECODE_ERROR_PREFIX).unwrap_or(message);
    let mut fields = Vec::new();
    while let Some((segment, after)) = rest.split_once(": ")
        && let Some((message_name, field)) = segment.split_once('.')
        && is_identifier(message_name)
        && is_identifier(field.trim_start_matches("r#"))
    {
        fields.push(field.trim_start_matches("r#"));
        rest = after;
    }
    fields.reverse();
    let field = if fields.is_empty() {
        "message".to_owned()
    } else {
        fields.join(".")
    };
    Error::invalid(field, format!("cannot be decoded: {rest}"))
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_and_description(message: &str) -> (String, String) {
        match undecodable(message) {
            Error::InvalidArgument(violations) => {
                let violation = violations.into_iter().next().expect("one violation");
                (violation.field, violation.description)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_field_path_runs_from_the_top_message() {
        assert_eq!(
            field_and_description(
                "failed to decode Protobuf message: SubmitRecommendationRequest.text: \
                 invalid string value: data is not UTF-8 encoded"
            ),
            (
                "text".to_owned(),
                "cannot be decoded: invalid string value: data is not UTF-8 encoded".to_owned()
            )
        );
        assert_eq!(
            field_and_description(
                "failed to decode Protobuf message: IndicatorValue.text_value: \
                 SubmitReportRequest.values: invalid string value: data is not UTF-8 encoded"
            )
            .0,
            "values.text_value"
        );
        assert_eq!(
            field_and_description("failed to decode Protobuf message: invalid varint"),
            (
                "message".to_owned(),
                "cannot be decoded: invalid varint".to_owned()
            )
        );
    }

    #[test]
    fn prost_still_words_its_errors_as_parsed_here() {
        #[derive(Clone, PartialEq, Message)]
        struct Bytes {
            #[prost(bytes = "vec", tag = "2")]
            text: Vec<u8>,
        }
        #[derive(Clone, PartialEq, Message)]
        struct Text {
            #[prost(string, tag = "2")]
            text: String,
        }
        let encoded = Bytes {
            text: vec![0x66, 0xff, 0x66],
        }
        .encode_to_vec();
        let error = Text::decode(encoded.as_slice()).expect_err("not UTF-8");
        assert_eq!(field_and_description(&error.to_string()).0, "text");
    }
}
