// Custom search attributes of a release. They carry no patient data: only the stage, the model's
// name and version, and the target clouds, so operators can filter releases in the Temporal UI.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const StageKey = defineSearchAttributeKey('MedreleaseStage', SearchAttributeType.KEYWORD);
export const ModelNameKey = defineSearchAttributeKey('MedreleaseModel', SearchAttributeType.KEYWORD);
export const ModelVersionKey = defineSearchAttributeKey(
  'MedreleaseModelVersion',
  SearchAttributeType.KEYWORD,
);
export const CloudsKey = defineSearchAttributeKey('MedreleaseClouds', SearchAttributeType.KEYWORD_LIST);

/** Name and CLI type of every custom search attribute, as `temporal server start-dev --search-attribute` takes them. */
export const SEARCH_ATTRIBUTES: Record<string, 'Keyword' | 'KeywordList'> = {
  MedreleaseStage: 'Keyword',
  MedreleaseModel: 'Keyword',
  MedreleaseModelVersion: 'Keyword',
  MedreleaseClouds: 'KeywordList',
};
