import { EnvelopeError, MalformedBodyError, UnsupportedMediaTypeError } from '../errors.ts'
import { parseForm, type FormLimits } from '../wire/parse-form.ts'

/** The two kinds of body a webhook may have. */
export type Media = 'form' | 'json'

const MEDIA: Record<string, Media> = { 'application/x-www-form-urlencoded': 'form', 'application/json': 'json' }

/**
 * What a content type says the body is: a PHP form (what Bitrix24 posts) or JSON.
 * @throws {UnsupportedMediaTypeError} for anything else
 */
export function mediaOf(contentType: string | undefined): Media {
  const essence = (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() as string
  if (!Object.hasOwn(MEDIA, essence)) throw new UnsupportedMediaTypeError()
  return MEDIA[essence] as Media
}

/**
 * Reads a webhook body into an object; what it means is for the token check and the decoder to say.
 * @throws {MalformedBodyError} for a form past its limits or JSON that does not parse;
 *   {EnvelopeError} for JSON that is not an object.
 */
export function readPayload(body: string, media: Media, formLimits?: Partial<FormLimits>): Record<string, unknown> {
  if (media === 'form') return parseForm(body, formLimits)
  let payload: unknown
  try {
    payload = JSON.parse(body)
  } catch (error) {
    throw new MalformedBodyError(body.trim() === '' ? 'the JSON body is empty' : 'the body is not valid JSON', { cause: error })
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new EnvelopeError('not a Bitrix24 event: the body is not an object')
  return payload as Record<string, unknown>
}
